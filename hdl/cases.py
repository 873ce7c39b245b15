"""The circuits the RTL is verified on (tests, benchmarks, docs and the demo use the same ones).

* `mixed_circuit`: a random 3-window circuit mixing relu, leaky_relu, tanh and conductance
  devices whose active edge set changes from window to window (kgen.examples); the block
  tests add the remaining kinds (`ALL_KINDS`).
* `neighbor_circuit`: the 3x3 `neighbor` topology on an 8x8 grid (2,592 edges, 64 nodes), two
  windows, tanh and relu devices alternating, parameters large enough that the state moves.
* the twomoon reference checkpoint (300 edges, 2 windows) is loaded from ../shared.
"""

from __future__ import annotations

import numpy as np

from kgen.circuit import Circuit, ModelTask, Window
from kgen.solver import Solver
from kgen.devices import DEVICE_KINDS
from kgen.examples import random_circuit

#: relu, leaky_relu (constant multiply), tanh (the table) and a plain conductance: every op kind of the lowering
MIXED_KINDS = ("ShiftRelu1", "ShiftLeakyRelu2", "ShiftTanh2", "Conductance")


ALL_KINDS = ("ShiftRelu1", "ShiftLeakyRelu1", "ShiftLeakyRelu2", "ShiftTanh1", "ShiftTanh2", "Conductance")


def mixed_circuit(seed: int = 5, kinds=MIXED_KINDS) -> Circuit:
    return random_circuit(seed, n_nodes=6, n_windows=3, n_edges=40, kinds=kinds, n_inputs=3, n_outputs=2,
                          name="mixed")


def neighbor_circuit(seed: int = 0, size: int = 8) -> Circuit:
    from kgen.topology import neighbor

    src, des = neighbor(1, size, size, 3)
    n, e = int(max(src.max(), des.max())), src.size
    kinds = ("ShiftRelu1", "ShiftTanh2")
    edge_kind = np.arange(e) % 2
    rng = np.random.RandomState(seed)
    rows = max(DEVICE_KINDS[k].n_rows for k in kinds)
    windows = []
    for w in range(2):
        p = np.zeros((rows, e))
        relu = edge_kind == 0
        p[0, relu] = rng.normal(0.0, 0.5, relu.sum())  # shift
        p[1, relu] = np.abs(rng.normal(0.0, 0.3, relu.sum())) + 0.05  # conducts src -> des
        p[:3, ~relu] = rng.normal(0.0, 0.4, (3, int((~relu).sum())))
        windows.append(Window(float(w), float(w + 1), np.arange(e), p))
    return Circuit(n_nodes=n, capacitance=np.ones(n), src=src, des=des, kinds=kinds, edge_kind=edge_kind,
                   windows=tuple(windows), inputs=tuple(range(1, 9)), outputs=tuple(range(n - 3, n + 1)),
                   task=ModelTask.GENERIC, name=f"neighbor{size}",
                   defaults=Solver(method="dopri5", rtol=1e-7, atol=1e-7, dtype="float64"))

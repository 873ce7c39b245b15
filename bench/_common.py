"""Shared pieces of the benchmarks: the mnist circuit and a faithful port of the original RHS."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REFERENCE = ROOT.parent / "shared" / "reference" / "kirchhoffnet"


def mnist_circuit():
    """The mnist checkpoint if ../shared is there, else the same topology with Kaiming-normal parameters."""
    from kgen.circuit import Circuit, ModelTask, Window
    from kgen.modelfile import load_model
    from kgen.topology import mix_connect

    if (REFERENCE / "mnist").is_dir():
        return load_model(REFERENCE / "mnist").circuit, "mnist checkpoint"
    src, des = mix_connect(1, 28, 28, 4, 50, [1, 1])
    rng = np.random.RandomState(0)
    e = src.size
    windows = tuple(Window(w, w + 1, np.arange(e), rng.normal(0, np.sqrt(2 / e), (2, e))) for w in range(2))
    return Circuit(n_nodes=834, capacitance=np.ones(834), src=src, des=des, kinds=("ShiftRelu1",),
                   edge_kind=np.zeros(e, np.int64), windows=windows, inputs=tuple(range(1, 785)),
                   outputs=tuple(range(825, 835)), task=ModelTask.CLASSIFIER, name="mnist-topology"), \
        "mnist topology, random parameters (../shared absent)"


class OriginalLayer(torch.nn.Module):
    """The original CircuitLayer.forward for ShiftRelu1, line for line: batch-major state,
    a ground column concatenated, gather by advanced indexing, two scatter_add_, a slice."""

    def __init__(self, circuit, w: int, dtype):
        super().__init__()
        win = circuit.windows[w]
        self.src_node = torch.as_tensor(circuit.src[win.edges])
        self.des_node = torch.as_tensor(circuit.des[win.edges])
        self.param = torch.tensor(win.params, dtype=dtype)
        self.nfe = 0

    def forward(self, t, x):
        self.nfe += 1
        aux_v = torch.cat((torch.zeros_like(x[..., :1]), x), dim=-1)
        x_src, x_des = aux_v[..., self.src_node], aux_v[..., self.des_node]
        state_i = self.param[1] * torch.nn.functional.relu(x_src - x_des - self.param[0])
        result = torch.cat((torch.zeros_like(x[..., :1]), torch.zeros_like(x)), dim=-1)
        result.scatter_add_(-1, self.src_node.expand_as(state_i), -state_i)
        result.scatter_add_(-1, self.des_node.expand_as(state_i), state_i)
        return result[..., 1:]


def rate(fn, min_time: float = 2.0, warmup: int = 2) -> float:
    """Calls per second of fn, timed over at least min_time seconds."""
    for _ in range(warmup):
        fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            return n / elapsed

"""Circuits of our own: a seeded random generator and the bundled demo example.

The random generator mixes device kinds and changes the active edge set from
window to window, so every view is exercised on more than the reference
checkpoints. Parameters are drawn so the circuit stays well behaved: tanh
devices have bounded currents, relu-type devices get a dissipative sign.
"""

from __future__ import annotations

import numpy as np

from .circuit import Circuit, ModelTask, Window
from .solver import Solver
from .devices import DEVICE_KINDS

DEFAULT_KINDS = ("ShiftTanh2", "ShiftTanh1", "ShiftRelu1", "ShiftLeakyRelu2", "Conductance")


def _params(kind: str, rng: np.random.RandomState, n: int) -> np.ndarray:
    rows = DEVICE_KINDS[kind].n_rows
    p = rng.normal(0.0, 0.6, size=(rows, n))
    if kind in ("ShiftRelu1", "ShiftLeakyRelu1"):
        p[1] = np.abs(p[1]) + 0.2  # conducts from src to des: i = p1 relu(d - p0) >= 0 when d > p0
    if kind == "Conductance":
        p[0] = np.abs(p[0]) + 0.1  # passive conductance
        p[1:] = 0.0
    if kind in ("ShiftRelu2", "ShiftLeakyRelu2"):
        # i = act(p0 v_src + p1 v_des + p2) leaves src: p0 > 0 and p1 < 0 make it dissipative
        p[0], p[1] = np.abs(p[0]) + 0.2, -np.abs(p[1]) - 0.2
    if kind == "ShiftTanh1":
        p[2] = 0.0
    return p


def random_circuit(seed: int = 0, n_nodes: int = 5, n_windows: int = 3, n_edges: int = 16,
                   kinds=DEFAULT_KINDS, n_inputs: int = 2, n_outputs: int = 2, t_window: float = 0.5,
                   capacitance: tuple[float, float] = (0.5, 2.0), name: str = "random") -> Circuit:
    """A seeded circuit: mixed kinds, every edge active in a random subset of windows (at least one)."""
    rng = np.random.RandomState(seed)
    pairs = [(i, j) for i in range(n_nodes + 1) for j in range(n_nodes + 1) if i != j]
    pick = rng.choice(len(pairs), size=n_edges, replace=n_edges > len(pairs))
    src = np.array([pairs[k][0] for k in pick])
    des = np.array([pairs[k][1] for k in pick])
    kinds = tuple(sorted(set(kinds)))
    edge_kind = np.array([k % len(kinds) for k in range(n_edges)])
    rng.shuffle(edge_kind)
    active = rng.rand(n_windows, n_edges) < 0.75
    active[rng.randint(n_windows, size=n_edges), np.arange(n_edges)] = True
    rows = max(DEVICE_KINDS[k].n_rows for k in kinds)
    windows = []
    for w in range(n_windows):
        edges = np.flatnonzero(active[w])
        params = np.zeros((rows, edges.size))
        for k, kind in enumerate(kinds):
            cols = np.flatnonzero(edge_kind[edges] == k)
            params[:DEVICE_KINDS[kind].n_rows, cols] = _params(kind, rng, cols.size)
        windows.append(Window(w * t_window, (w + 1) * t_window, edges, params))
    lo, hi = capacitance
    cap = np.round(rng.uniform(lo, hi, n_nodes), 3)
    return Circuit(n_nodes=n_nodes, capacitance=cap, src=src, des=des, kinds=kinds, edge_kind=edge_kind,
                   windows=tuple(windows), inputs=tuple(range(1, n_inputs + 1)),
                   outputs=tuple(range(n_nodes - n_outputs + 1, n_nodes + 1)), task=ModelTask.GENERIC,
                   name=name, defaults=Solver(method="dopri5", rtol=1e-7, atol=1e-7, dtype="float64"))


def demo_circuit() -> Circuit:
    """The bundled example `make demo` runs: 6 nodes, 3 windows, five device kinds, 24 edges."""
    return random_circuit(seed=7, n_nodes=6, n_windows=3, n_edges=24, n_inputs=3, n_outputs=2, name="demo")

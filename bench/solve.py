"""A whole dopri5 forward pass on the mnist topology: kgen vs the original formulation.

    .venv/bin/python bench/solve.py

float32, two threads, batch 64, rtol = atol = 1e-3 (the checkpoint's config), both windows.
Prints wall time, RHS evaluations and the ratio.
"""

from __future__ import annotations

import time

import torch
import torchdiffeq

from _common import OriginalLayer, mnist_circuit


def main() -> None:
    torch.set_num_threads(2)
    from kgen.model import KirchhoffNet
from kgen.solver import Solver

    circuit, what = mnist_circuit()
    dtype, batch = torch.float32, 64
    x = torch.rand(batch, len(circuit.inputs), generator=torch.Generator().manual_seed(0))
    opts = Solver(method="dopri5", rtol=1e-3, atol=1e-3, dtype="float32")
    print(f"dopri5 forward on {what}, batch {batch}, float32, rtol=atol=1e-3, {torch.get_num_threads()} threads")
    with torch.no_grad():
        model = KirchhoffNet(circuit, dtype)
        t0 = time.perf_counter()
        y_ours = model(x, opts)
        t_ours = time.perf_counter() - t0

        layers = [OriginalLayer(circuit, w, dtype) for w in range(len(circuit.windows))]
        state = torch.zeros(batch, circuit.n_nodes, dtype=dtype)
        state[:, : x.shape[1]] = x  # the original's zero fill
        t0 = time.perf_counter()
        for w, layer in enumerate(layers):
            win = circuit.windows[w]
            t = torch.tensor([0.0, win.t_end - win.t_start])
            state = torchdiffeq.odeint(layer, state, t, rtol=1e-3, atol=1e-3, method="dopri5")[-1]
        y_base = state[:, -10:]
        t_base = time.perf_counter() - t0
    nfe_base = sum(layer.nfe for layer in layers)
    err = float((y_ours - y_base).abs().max())
    print(f"original: {t_base:7.2f} s, {nfe_base} RHS evaluations")
    print(f"kgen:     {t_ours:7.2f} s, {model.nfe} RHS evaluations")
    print(f"max |logit difference| {err:.2e}; speed-up {t_base / t_ours:.2f}x")


if __name__ == "__main__":
    main()

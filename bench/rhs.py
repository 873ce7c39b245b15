"""RHS evaluations per second on the mnist topology: kgen's node-major field vs the original formulation.

    .venv/bin/python bench/rhs.py

float32, two threads, batch 64 and 256. Target: at least 2x.
"""

from __future__ import annotations

import torch

from _common import OriginalLayer, mnist_circuit, rate


def main() -> None:
    torch.set_num_threads(2)
    from kgen.model import KirchhoffNet

    circuit, what = mnist_circuit()
    dtype = torch.float32
    ours = KirchhoffNet(circuit, dtype).fields[0]
    base = OriginalLayer(circuit, 0, dtype)
    e = circuit.windows[0].edges.size
    print(f"RHS on {what}: {circuit.n_nodes} nodes, {e} edges, float32, {torch.get_num_threads()} threads")
    with torch.no_grad():
        for batch in (64, 256):
            x = torch.rand(batch, circuit.n_nodes, dtype=dtype)
            v = x.T.contiguous()
            torch.testing.assert_close(ours(0.0, v).T, base(0.0, x), rtol=1e-4, atol=1e-4)
            r_base = rate(lambda: base(0.0, x))
            r_ours = rate(lambda: ours(0.0, v))
            print(f"batch {batch:4d}: original {r_base:8.1f} RHS/s ({r_base * e * batch / 1e6:7.1f} M edge evals/s)   "
                  f"kgen {r_ours:8.1f} RHS/s ({r_ours * e * batch / 1e6:7.1f} M edge evals/s)   "
                  f"{r_ours / r_base:.2f}x")


if __name__ == "__main__":
    main()

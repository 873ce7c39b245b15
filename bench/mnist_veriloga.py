"""The mnist checkpoint in VACASK end to end (T = 2, both windows) on real digits. Not run in CI.

    .venv/bin/python bench/mnist_veriloga.py [--digits 4] [--accuracy 1e-3] [--workers 2] [--copies 1]

Runs `kgen run --view veriloga` (the same code: Model.run) on scikit-learn digits upscaled to 28 x 28
(as bench/mnist_spice.py), saving only the ten output nodes, with the transient settings that
`--accuracy ERR` derives (`--accuracy preset` for the 1e-4 preset), the inputs spread over `--workers`
VACASK processes, `--copies` inputs per netlist. Prints the wall time and the time per input, the max
logit error against the float reference (dopri5, float64, rtol = atol = 1e-10) and the argmax
agreement, and exits 1 if the error exceeds the target. The figures go into docs/analog.md by hand.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _common import mnist_circuit


def digit_inputs(n: int) -> np.ndarray:
    """The first n scikit-learn digits (8 x 8, 0..1) upscaled to 28 x 28 by bilinear interpolation."""
    from kgen.datasets import digits

    x, _, _, _ = digits()
    coords = np.linspace(0, 7, 28)
    out = []
    for img in x[:n].reshape(-1, 8, 8):
        rows = np.array([np.interp(coords, np.arange(8), r) for r in img])
        out.append(np.array([np.interp(coords, np.arange(8), c) for c in rows.T]).T.reshape(784))
    return np.array(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits", type=int, default=4)
    p.add_argument("--accuracy", default="1e-3")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--copies", type=int, default=1)
    a = p.parse_args()
    from kgen.codegen.analog import parse_accuracy
    from kgen.modelfile import Model
    from kgen.montecarlo import nominal_outputs

    circuit, what = mnist_circuit()
    model = Model(circuit)
    x = digit_inputs(a.digits)
    target = parse_accuracy(a.accuracy)
    print(f"{what}: {circuit.n_nodes} nodes, {circuit.n_edges} edges x {len(circuit.windows)} windows; "
          f"{a.digits} digits, accuracy {a.accuracy}, {a.workers} VACASK processes, {a.copies} per netlist",
          flush=True)
    t0 = time.perf_counter()
    ref = nominal_outputs(model, x)
    print(f"  float reference: {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    trace = model.run(x, view="veriloga", save="outputs", workers=a.workers, copies=a.copies, accuracy=target)
    wall = time.perf_counter() - t0
    y = model.outputs(trace)
    err = float(np.max(np.abs(y - ref)))
    agree = float(np.mean(np.argmax(y, 1) == np.argmax(ref, 1)))
    d = trace.extra["details"]
    print(f"  VACASK: {wall:.0f} s wall for {a.digits} inputs ({wall * a.workers / a.digits:.0f} s of one core per "
          f"input); maxstep {d['maxstep']:g}, reltol {d['reltol']:g}; {trace.extra['label']}", flush=True)
    if "profile" in d:  # VACASK's print stats, summed over the runs
        print("  profile: " + ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in d["profile"].items()), flush=True)
    print(f"  max |logit error| {err:.3g} (target {target if target else 1e-4:g}); argmax agreement {agree:.2f}; "
          f"classes {np.argmax(y, 1).tolist()} vs reference {np.argmax(ref, 1).tolist()}", flush=True)
    return 0 if err <= (target or 1e-4) and agree == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""How the analog views' error scales with maxstep and reltol: the measurement `--accuracy ERR` rests on.

    .venv/bin/python bench/accuracy.py [--models twomoon,8gaussians] [--views veriloga,spice]
                                       [--samples 8] [--factors 1,4,16,64,256]

For each model and view, simulates the same standard-normal inputs (seed 0) with the preset
(maxstep 5e-5 of the span, reltol 1e-8 VACASK / 1e-10 ngspice) and with the settings
`--accuracy ERR` derives for ERR = 1e-4 x factor, and prints for each the max |error| at the
outputs against the float reference (dopri5, 1e-10, final time), the max over every window
boundary and node, the simulator's CPU seconds and whether the derived settings met their
target. Run with the project's Python; the figures go into docs/analog.md by hand.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "kirchhoffnet"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="twomoon,8gaussians")
    p.add_argument("--views", default="veriloga,spice")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--factors", default="1,4,16,64,256")
    a = p.parse_args()
    import kgen
    from kgen.montecarlo import nominal_outputs

    failed = False
    for name in a.models.split(","):
        path = REFERENCE / name
        if not path.exists():
            print(f"{name}: expected {path}, found nothing (../shared is absent)", file=sys.stderr)
            return 2
        model = kgen.load(path)
        x = np.random.default_rng(0).standard_normal((a.samples, model.circuit.n_data))
        ref = nominal_outputs(model, x)
        for view in a.views.split(","):
            rows = [("preset", None)] + [(f"1e-4 x {f}", 1e-4 * float(f)) for f in a.factors.split(",")]
            for label, target in rows:
                opts = {"workers": 2} if target is None else {"workers": 2, "accuracy": target}
                t0 = time.perf_counter()
                tr = model.run(x, view=view, **opts)
                wall = time.perf_counter() - t0
                err = float(np.max(np.abs(model.outputs(tr) - ref)))
                met = "" if target is None else ("  met" if err <= target else "  MISSED")
                failed |= target is not None and err > target
                print(f"{name:10s} {view:8s} {label:12s} max |error| at the outputs {err:.3g}  "
                      f"({tr.extra.get('label', '')}; {wall:.1f} s wall){met}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""`kgen flow` with the default flow on the 2-D reference checkpoints (needs ../shared; long).

    .venv/bin/python bench/flow_reference.py [--out bench-out/flow] [--only twomoon,circle] [--jobs 2]

Each checkpoint folder is given to `kgen flow` as it is (the default flow: import, inputs, eval,
float, both analog exports and simulators, quantize, the twin, Verilog, RTL, report). Prints per
checkpoint the wall time, each view's error against its reference and whether it is within its
contract (float vs SPICE / Verilog-A within 1e-4, fixed within its derived bound, RTL identical
to fixed), and exits 1 if any is not. Results go into docs/flow.md by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "kirchhoffnet"
TWO_D = ("twomoon", "8gaussians", "pinwheel", "swissroll", "circle", "2spirals", "potential1", "potential2")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "bench-out" / "flow"))
    p.add_argument("--only", help="comma-separated checkpoints (default: all eight)")
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    if not REFERENCE.is_dir():
        print(f"reference checkpoints: expected {REFERENCE}, found nothing (../shared is absent)", file=sys.stderr)
        return 2
    names = a.only.split(",") if a.only else TWO_D
    failed = False
    for name in names:
        out = Path(a.out) / name
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, "-m", "kgen", "flow", str(REFERENCE / name), "-o", str(out),
                             "--jobs", str(a.jobs)]).returncode
        wall = time.perf_counter() - t0
        if rc != 0:
            print(f"{name}: kgen flow failed (exit {rc}) after {wall:.0f} s; logs in {out / 'logs'}")
            failed = True
            continue
        doc = json.loads((out / "report.json").read_text())
        views = ", ".join(f"{v['view']} {v.get('max_abs_error', 0):.2g}{'' if v.get('passed', True) else ' FAILED'}"
                          for v in doc["views"] if v["view"] != "float")
        ev = doc["evaluation"]
        metric = f"; {ev['metric']} {ev['value']:.4f}" if ev else ""
        print(f"{name}: {wall:.0f} s; {views}; within contract: {doc['all_within_contract']}{metric}", flush=True)
        failed |= not doc["all_within_contract"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

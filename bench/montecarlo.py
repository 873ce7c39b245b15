"""Mismatch Monte Carlo in the simulators: `kgen verify --mismatch` on a model, per view (long).

    .venv/bin/python bench/montecarlo.py [MODEL] [--views veriloga:8,spice:2] [--trials 100]
                                         [--sigma 0.05] [--cap-tolerance 0] [--jobs 2] [--out bench-out/mc]

MODEL defaults to the twomoon reference checkpoint. Each VIEW:INPUTS pair runs TRIALS trials on
INPUTS standard-normal inputs (seed 0; a flow samples noise -> data) through the command users
type, with a fresh cache, and prints per view: wall time, seconds per trial and input, the
fidelity (the worst trial's max |simulator - float model with the same perturbation|, and how many
trials are within 1e-4), and the metric's distribution over the trials against the nominal
circuit. The JSON reports and histograms go to --out; the figures go into docs/analog.md by hand.
Exits 1 if a trial misses the fidelity contract.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TWOMOON = ROOT.parent / "shared" / "reference" / "kirchhoffnet" / "twomoon"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", default=str(TWOMOON))
    p.add_argument("--views", default="veriloga:8,spice:2", help="VIEW:INPUTS pairs")
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--sigma", type=float, default=0.05)
    p.add_argument("--cap-tolerance", type=float, default=0.0)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", default=str(ROOT / "bench-out" / "mc"))
    a = p.parse_args()
    if not Path(a.model).exists():
        print(f"model: expected {a.model}, found nothing (../shared is absent?)", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = False
    print(f"{Path(a.model).name}: {a.trials} trials at sigma {a.sigma:g}, capacitors {a.cap_tolerance:g}, "
          f"{a.jobs} jobs")
    for pair in a.views.split(","):
        view, inputs = pair.split(":")
        cache = out / f"cache-{view}"
        shutil.rmtree(cache, ignore_errors=True)
        stem = out / f"{Path(a.model).stem}-{view}"
        cmd = [sys.executable, "-m", "kgen", "verify", a.model, "--view", view, "--mismatch", str(a.sigma),
               "--cap-tolerance", str(a.cap_tolerance), "--trials", str(a.trials), "--samples", inputs,
               "--jobs", str(a.jobs), "--plot", f"{stem}.png", "--json"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=dict(os.environ, KGEN_CACHE_DIR=str(cache)), capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1):
            print(f"  {view}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
            failed = True
            continue
        Path(f"{stem}.json").write_text(proc.stdout)
        r = json.loads(proc.stdout)
        m, f = r["metric_spread"], r["fidelity"]
        per = wall * a.jobs / (a.trials * int(inputs))
        print(f"  {view}: {r['trials']} trials x {r['inputs']} inputs in {wall:.0f} s wall "
              f"({per:.2f} core-s per trial-input); fidelity max {f['max']:.3g} (mean {f['mean']:.3g}), "
              f"{r['passed_trials']}/{r['trials']} within {r['tolerance']:g}")
        print(f"    {r['metric']}: mean {m['mean']:.4g}, std {m['std']:.3g}, min {m['min']:.4g}, max {m['max']:.4g}; "
              + "; ".join(f"n{n} |dev| mean {d['mean']:.3g} max {d['max']:.3g}" for n, d in r["deviation"].items()))
        failed |= not r["passed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

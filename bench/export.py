"""Export time and peak memory of twomoon and mnist to both analog targets.

    .venv/bin/python bench/export.py [--repeat N] [MODEL ...]

MODELs default to the twomoon and mnist checkpoints in
../shared/reference/kirchhoffnet/ (mnist: 2 windows x 230,068 edges; without
../shared, the mnist topology with random parameters). Each export runs as
`kgen --target T MODEL -o DIR` in a fresh process that reports its own wall
time and peak resident memory; the baseline, run the same way, only loads the
model, so the ratios show what writing the netlists costs on top. Every figure
(wall, CPU, peak) is the lowest of `--repeat` runs (default 3: the machine is shared). Targets:
under 30 s and under 2 GB per export.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REFERENCE, ROOT, mnist_circuit

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
argv = json.loads(sys.argv[1])
if argv[0] == "load":
    from kgen.modelfile import load_model
    load_model(argv[1]).circuit; rc = 0
else:
    from kgen.cli import main
    rc = main(argv)
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rc": rc, "seconds": time.perf_counter() - t0, "cpu": use.ru_utime + use.ru_stime,
                  "peak_mb": use.ru_maxrss / 1024}))
"""


def child(argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(argv)], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"bench child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best(argv: list[str], repeat: int) -> dict:
    runs = [child(argv) for _ in range(repeat)]
    return {"rc": max(r["rc"] for r in runs), "seconds": min(r["seconds"] for r in runs),
            "cpu": min(r["cpu"] for r in runs), "peak_mb": min(r["peak_mb"] for r in runs)}


def models(tmp: str, given: list[str]) -> list[tuple[str, str]]:
    if given:
        return [(m, m) for m in given]
    out = []
    if (REFERENCE / "twomoon").is_dir():
        out.append((str(REFERENCE / "twomoon"), "twomoon checkpoint (original folder)"))
    if (REFERENCE / "mnist").is_dir():
        out.append((str(REFERENCE / "mnist"), "mnist checkpoint (original folder)"))
    else:
        from kgen.modelfile import save_model

        circuit, what = mnist_circuit()
        path = str(Path(tmp) / "mnist.kgen")
        save_model(circuit, path)
        out.append((path, what))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*")
    p.add_argument("--repeat", type=int, default=3, help="runs per figure, the fastest kept (default 3)")
    a = p.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="kgen-bench-") as tmp:
        for model, what in models(tmp, a.models):
            print(f"export of {what}")
            base = best(["load", model], a.repeat)
            print(f"  baseline (load the model only): {base['seconds']:6.2f} s ({base['cpu']:.2f} s CPU), "
                  f"peak {base['peak_mb']:7.1f} MB")
            for target in ("spice", "veriloga"):
                out = Path(tmp) / target
                res = best(["--target", target, model, "-o", str(out)], a.repeat)
                size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
                passed = res["rc"] == 0 and res["seconds"] < 30 and res["peak_mb"] < 2048
                ok &= passed
                print(f"  --target {target:<8}: {res['seconds']:6.2f} s ({res['seconds'] / base['seconds']:.2f}x "
                      f"baseline; {res['cpu']:.2f} s CPU), peak {res['peak_mb']:7.1f} MB "
                      f"({res['peak_mb'] / base['peak_mb']:.2f}x), "
                      f"{size:.1f} MB written  [{'ok' if passed else 'MISSED'}: target < 30 s, < 2 GB]", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

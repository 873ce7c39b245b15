"""Export time and peak memory of the mnist checkpoint to both analog targets.

    .venv/bin/python bench/export.py [MODEL]

MODEL defaults to ../shared/reference/kirchhoffnet/mnist (2 windows x 230,068
edges; without ../shared, the same topology with random parameters). Each
export runs as `kgen --target T MODEL -o DIR` in a fresh process that reports
its own wall time and peak resident memory; the baseline, run the same way,
only loads the model, so the ratios show what writing the netlists costs on
top. Targets: under 30 s and under 2 GB per export.
"""

from __future__ import annotations

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
    from kgen.original import load_any
    load_any(argv[1]); rc = 0
else:
    from kgen.cli import main
    rc = main(argv)
print(json.dumps({"rc": rc, "seconds": time.perf_counter() - t0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(argv)], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"bench child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kgen-bench-") as tmp:
        if len(sys.argv) > 1:
            model, what = sys.argv[1], sys.argv[1]
        elif (REFERENCE / "mnist").is_dir():
            model, what = str(REFERENCE / "mnist"), "mnist checkpoint (original folder)"
        else:
            from kgen.modelfile import save_model

            circuit, what = mnist_circuit()
            model = str(Path(tmp) / "mnist.kgen")
            save_model(circuit, model)
        print(f"export of {what}")
        base = child(["load", model])
        print(f"  baseline (load the model only): {base['seconds']:6.2f} s, peak {base['peak_mb']:7.1f} MB")
        ok = True
        for target in ("spice", "veriloga"):
            out = Path(tmp) / target
            res = child(["--target", target, model, "-o", str(out)])
            size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
            passed = res["rc"] == 0 and res["seconds"] < 30 and res["peak_mb"] < 2048
            ok &= passed
            print(f"  --target {target:<8}: {res['seconds']:6.2f} s ({res['seconds'] / base['seconds']:.2f}x "
                  f"baseline), peak {res['peak_mb']:7.1f} MB ({res['peak_mb'] / base['peak_mb']:.2f}x), "
                  f"{size:.1f} MB written  [{'ok' if passed else 'MISSED'}: target < 30 s, < 2 GB]")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""`make demo`: the main job end to end on the bundled example circuit.

Each step is a real `kgen` command, printed before it runs, so the demo is
also a transcript a user can replay. Later stages (analog targets, the
fixed-point twin, RTL) join as they land.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .cli import main as kgen_main

OUT = Path("demo-out")


def step(*argv: str) -> None:
    print(f"\n$ kgen {' '.join(shlex.quote(a) for a in argv)}", flush=True)
    t0 = time.time()
    rc = kgen_main(list(argv))
    if rc:
        sys.exit(rc)
    print(f"  ({time.time() - t0:.1f} s)", flush=True)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    model = str(OUT / "demo.kgen")
    step("example", "-o", model)
    step("info", model)
    inputs = OUT / "inputs.npy"
    np.save(inputs, np.random.RandomState(0).uniform(-1, 1, size=(4, 3)))
    step("run", model, "--inputs", str(inputs), "-o", str(OUT / "outputs_float.npy"), "--view", "float")
    y = np.load(OUT / "outputs_float.npy")
    print("  float outputs (4 inputs x 2 output nodes):")
    for row in y:
        print("   ", "  ".join(f"{v:+.6f}" for v in row))
    print(f"\ndemo finished; files in {OUT}/")


if __name__ == "__main__":
    main()

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
    analog(model, inputs)
    quantized = fixed(model, inputs)
    rtl(quantized, inputs)
    print(f"\ndemo finished; files in {OUT}/")


def analog(model: str, inputs: Path) -> None:
    """Both analog targets, then each verified in its simulator (skipped, with the reason, if missing)."""
    from .codegen.tools import NGSPICE, OPENVAF, VACASK
    from .tools import missing_reason

    step("--target", "spice", model, "-o", str(OUT / "spice"), "--inputs", str(inputs))
    step("--target", "veriloga", model, "-o", str(OUT / "veriloga"), "--inputs", str(inputs))
    for view, tools in (("spice", (NGSPICE,)), ("veriloga", (VACASK, OPENVAF))):
        missing = missing_reason(*tools)
        if missing:
            print(f"\n(skipping kgen verify --view {view}: {missing})")
            continue
        step("verify", model, "--view", view, "--inputs", str(inputs), "--plot", str(OUT / f"verify_{view}.png"))


def fixed(model: str, inputs: Path) -> str:
    """The fixed-point twin: choose formats and dt, run bit-exact, compare with float Euler at the same dt."""
    from .modelfile import load_model

    quantized = str(OUT / "demo_q.kgen")
    step("quantize", model, "-o", quantized, "--samples", "300", "--ref-samples", "64", "--eval-samples", "64",
         "--table-samples", "16")
    steps = load_model(quantized).quant.steps
    step("run", quantized, "--inputs", str(inputs), "-o", str(OUT / "outputs_fixed.npy"), "--view", "fixed",
         "--trace", str(OUT / "trace_fixed.npz"))
    step("run", quantized, "--inputs", str(inputs), "-o", str(OUT / "outputs_euler.npy"), "--method", "euler",
         "--steps", str(steps[0]), "--dtype", "float64", "--trace", str(OUT / "trace_euler.npz"))
    err = np.abs(np.load(OUT / "outputs_fixed.npy") - np.load(OUT / "outputs_euler.npy")).max()
    print(f"  fixed-point error at the outputs: max |fixed - float Euler| = {err:.3g}")
    step("diff", str(OUT / "trace_fixed.npz"), str(OUT / "trace_euler.npz"))
    return quantized


def rtl(quantized: str, inputs: Path) -> None:
    """The digital twin of the quantized model (its stored formats, steps and lanes): the Verilog,
    the cocotb bench on a short horizon with every step compared, then whole trajectories
    from the standalone bench, equal bit for bit to the fixed view."""
    from .hdl.tools import IVERILOG

    step("--target", "verilog", quantized, "-o", str(OUT / "verilog"))
    missing = IVERILOG.missing()
    if missing:
        print(f"\n(skipping kgen verify --view rtl: {missing})")
        return
    step("verify", quantized, "--view", "rtl", "--sim", "icarus", "--inputs", str(inputs), "--steps", "20",
         "--bench", "cocotb", "--record", "steps")
    step("run", quantized, "--inputs", str(inputs), "-o", str(OUT / "outputs_rtl.npy"), "--view", "rtl")
    same = np.array_equal(np.load(OUT / "outputs_rtl.npy"), np.load(OUT / "outputs_fixed.npy"))
    print(f"  rtl view vs fixed view over the whole trajectory: {'bit-identical' if same else 'DIFFERENT'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()

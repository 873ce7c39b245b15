"""The analytic cost model (kgen.hdl.fpga.cost) against Yosys, per family and lane count.

Each row synthesizes the board design (`kgen fpga report`'s, synthesis only)
and prints Yosys's LUT, FF, DSP and block RAM beside the model's, with the
ratio model / Yosys. The twomoon checkpoint (quantized as the tests do, dt
0.005) at L = 1, 4, 16 on iCE40 and ECP5, and kgen's bundled example at
L = 1, 4 at 4 steps per window (five device kinds: a circuit the model's factors were not taken from). `--json`
writes the Yosys figures in the form tests/fpga_cost_measured.json keeps.

    .venv/bin/python bench/fpga_cost.py [--lanes 1,4,16] [--families ice40,ecp5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import REFERENCE

from kgen.examples import demo_circuit
from kgen.hdl.fpga.cost import estimate
from kgen.hdl.fpga.devices import DEVICES, Resource
from kgen.hdl.fpga.synth import synthesize
from kgen.hdl.host_top import BOARD_TOP, host_verilog
from kgen.hdl.source import twin_plan
from kgen.hdl.target import VerilogOptions
from kgen.hdl.uart import divisor_for
from kgen.modelfile import Model

DEVICE_OF = {"ice40": "up5k", "ecp5": "ecp5-25k"}


def twomoon():
    from kgen.emulation.commands import quantize_model
    from kgen.modelfile import load_model

    return quantize_model(load_model(REFERENCE / "twomoon"), samples=200, ref_samples=32, eval_samples=32,
                          table=False, dt=0.005).model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", default="1,4,16")
    ap.add_argument("--families", default="ice40,ecp5")
    ap.add_argument("--json", help="write the Yosys figures here")
    a = ap.parse_args()
    lanes = [int(x) for x in a.lanes.split(",")]
    cases = [("twomoon", twomoon(), VerilogOptions(lanes=L)) for L in lanes] if REFERENCE.is_dir() else []
    cases += [("example", Model(demo_circuit()), VerilogOptions(lanes=L, steps=4)) for L in lanes if L <= 4]
    measured = {}
    print("| circuit | family | L | LUT yosys / model | FF | DSP | BRAM | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, model, twin in cases:
        L = twin.lanes
        plan = twin_plan(model, twin, debug=True)
        for fam in a.families.split(","):
            dev = DEVICES[DEVICE_OF[fam]]
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / f"{BOARD_TOP}.v"
                src.write_text(host_verilog(plan, divisor_for(dev.default_mhz * 1e6, 115200)))
                syn = synthesize(dev, src, BOARD_TOP, Path(tmp))
            est = estimate(plan, dev.family).used()
            got = {r.value: syn.used.get(r, 0) for r in (Resource.LUT, Resource.FF, Resource.DSP, Resource.BRAM)}
            measured[f"{name}/{fam}/L{L}"] = got
            cells = " | ".join(f"{got[r.value]} / {est[r]} ({est[r] / max(1, got[r.value]):.2f}x)"
                               for r in (Resource.LUT, Resource.FF, Resource.DSP, Resource.BRAM))
            print(f"| {name} | {fam} | {L} | {cells} | {time.monotonic() - t0:.0f} |", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

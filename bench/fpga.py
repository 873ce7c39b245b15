"""FPGA reports for the figures in docs/fpga.md: the twomoon checkpoint and the 2,592-edge neighbor circuit.

Each row is `kgen fpga report` (the board design: core + UART host protocol)
through Yosys and nextpnr for one device and lane count, printed as a table
row: resources used of available, Fmax against the requested clock, cycles
per inference from the plan and the latency at Fmax. The twomoon checkpoint
is quantized as the tests do (kgen quantize --dt 0.005); the neighbor circuit
runs 10 steps per window with kgen's default formats. A design that does not
fit is a row naming the resource and the shortfall.

    .venv/bin/python bench/fpga.py [--quick] [--devices up5k,ecp5-25k,xc7a35t] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from _common import REFERENCE

from kgen.errors import FitError
from kgen.hdl.cases import neighbor_circuit
from kgen.hdl.fpga.report import fpga_report
from kgen.hdl.target import VerilogOptions
from kgen.modelfile import Model


def twomoon():
    from kgen.emulation.commands import quantize_model
    from kgen.modelfile import load_model

    model = load_model(REFERENCE / "twomoon")
    return quantize_model(model, samples=200, ref_samples=32, eval_samples=32, table=False, dt=0.005).model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="twomoon at one lane only")
    ap.add_argument("--devices", default="up5k,ecp5-25k,xc7a35t")
    ap.add_argument("--json", help="write the rows as JSON here")
    a = ap.parse_args()
    cases = []
    if REFERENCE.is_dir():
        quantized = twomoon()
        cases += [("twomoon", quantized, VerilogOptions(lanes=lanes)) for lanes in ((1,) if a.quick else (1, 4))]
    if not a.quick:
        cases.append(("neighbor8", Model(neighbor_circuit()), VerilogOptions(lanes=1, steps=10)))
    rows = []
    print("| circuit | device | L | LUT | FF | DSP | BRAM | Fmax MHz (asked) | cycles | latency us | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, model, twin in cases:
        for dev in a.devices.split(","):
            t0 = time.monotonic()
            try:
                rep = fpga_report(model, dev, twin)
            except FitError as exc:
                print(f"| {name} | {dev} | {twin.lanes} | does not fit: {str(exc).split('found ')[-1]} "
                      f"| | | | | | | {time.monotonic() - t0:.0f} |", flush=True)
                rows.append({"circuit": name, "device": dev, "lanes": twin.lanes, "fits": False, "error": str(exc)})
                continue
            r = {u.resource.value: u for u in rep.resources}

            def cell(k):
                return f"{r[k].used} / {r[k].available}" if k in r else "-"
            fmax = "-" if rep.fmax_mhz is None else f"{rep.fmax_mhz:.2f} ({rep.freq_mhz:g})"
            lat = "-" if rep.latency_us is None else f"{rep.latency_us:,.1f}"
            print(f"| {name} | {dev} | {rep.lanes} | {cell('LUT')} | {cell('FF')} | {cell('DSP')} | {cell('BRAM')} "
                  f"| {fmax} | {rep.cycles:,} | {lat} | {time.monotonic() - t0:.0f} |", flush=True)
            rows.append({"circuit": name, "fits": True, **rep.as_dict()})
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)
    if not rows:
        sys.exit("no case ran (../shared absent and --quick given)")


if __name__ == "__main__":
    main()

"""`kgen fpga report MODEL --device D ...`: the verb the hdl package adds for FPGA prototyping."""

from __future__ import annotations

import argparse
import json

from kgen.commands import Command

from .devices import DEVICES

#: verilog-target flags that do not apply to the board design (it always has the debug port: saturation counts)
TARGET_ONLY = ("no_debug", "resources")


class FpgaCommand(Command):
    name = "fpga"
    description = "FPGA prototyping of the twin: synthesis, place and route, resources, Fmax and latency"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from kgen.options import add_arguments  # here, not above: `kgen --help` must not import NumPy

        from ..target import VerilogOptions

        sub = p.add_subparsers(dest="fpga_verb", required=True, metavar="VERB",
                               help="report (resources, Fmax, latency) or simulate (the board in Verilator)")
        r = sub.add_parser("report", help="synthesize, place and route the board design for a device; report "
                                          "resources, Fmax, cycles and latency")
        r.add_argument("model", help="kgen model file (quantized: `kgen quantize`) or original checkpoint folder")
        r.add_argument("--device", required=True, metavar="D", help="one of " + ", ".join(DEVICES))
        r.add_argument("--freq", type=float, metavar="MHZ", help="clock to place and route for, in MHz (default: "
                       + ", ".join(f"{d.name} {d.default_mhz:g}" for d in DEVICES.values() if d.placed) + ")")
        r.add_argument("--seed", type=int, default=1, help="nextpnr's placement seed (default 1)")
        r.add_argument("--json", action="store_true", help="print the report as one JSON document")
        add_arguments(r, VerilogOptions, exclude=TARGET_ONLY)
        sim = sub.add_parser("simulate", help="run the board design in Verilator with its UART on a "
                                              "pseudo-terminal, for `kgen run --view board --port PATH`")
        sim.add_argument("model", help="kgen model file (quantized: `kgen quantize`) or original checkpoint folder")
        add_arguments(sim, VerilogOptions, exclude=TARGET_ONLY)

    def main(self, a: argparse.Namespace) -> None:
        from kgen.jsontext import finite
        from kgen.modelfile import load_model
        from kgen.options import options_from_args

        from ..target import VerilogOptions

        from .devices import device
        from .report import fpga_report

        twin = options_from_args(VerilogOptions, a)
        if a.fpga_verb == "simulate":
            from ..board_sim import serve
            from ..source import twin_plan

            serve(twin_plan(load_model(a.model), twin, debug=True), say=lambda m: print(m, flush=True))
            return
        device(a.device)  # an unknown device is refused before the model is read
        model = load_model(a.model)
        rep = fpga_report(model, a.device, twin, a.freq, a.seed)
        if a.json:
            print(json.dumps(finite(rep.as_dict()), indent=1, sort_keys=True))
        else:
            print("\n".join(rep.lines()))


FPGA = FpgaCommand()

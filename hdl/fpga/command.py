"""`kgen fpga report MODEL --device D ...`: the verb the hdl package adds for FPGA prototyping."""

from __future__ import annotations

import argparse
import json

from kgen.commands import Command

from .boards import BOARDS
from .devices import DEVICES

#: verilog-target flags that do not apply to the board design (it always has the debug port: saturation counts)
TARGET_ONLY = ("no_debug", "resources")
MODEL_HELP = "kgen model file (quantized: `kgen quantize`) or original checkpoint folder"


def _verb(sub, name: str, help: str, target: tuple[str, str, str] | None, seed: bool, json_what: str | None):
    """One sub-verb: MODEL, its target flag (--device / --board), the seed and --json where it has them."""
    p = sub.add_parser(name, help=help)
    p.add_argument("model", help=MODEL_HELP)
    if target is not None:
        flag, metavar, known = target
        p.add_argument(flag, required=True, metavar=metavar, help="one of " + known)
    if seed:
        p.add_argument("--seed", type=int, default=1, help="nextpnr's placement seed (default 1)")
    if json_what:
        p.add_argument("--json", action="store_true", help=f"print the {json_what} as one JSON document")
    return p


class FpgaCommand(Command):
    name = "fpga"
    description = "FPGA prototyping of the twin: synthesis, place and route, resources, Fmax and latency"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from kgen.options import add_arguments  # here, not above: `kgen --help` must not import NumPy

        from ..target import VerilogOptions

        sub = p.add_subparsers(dest="fpga_verb", required=True, metavar="VERB",
                               help="report (resources, Fmax, latency), build (a board's bitstream), plan (the "
                                    "configuration that fits, from the cost model) or simulate (the board in "
                                    "Verilator)")
        devices, boards = ("--device", "D", ", ".join(DEVICES)), ("--board", "B", ", ".join(BOARDS))
        r = _verb(sub, "report", "synthesize, place and route the board design for a device; report resources, "
                  "Fmax, cycles and latency", devices, True, "report")
        r.add_argument("--freq", type=float, metavar="MHZ", help="clock to place and route for, in MHz (default: "
                       + ", ".join(f"{d.name} {d.default_mhz:g}" for d in DEVICES.values() if d.placed) + ")")
        add_arguments(r, VerilogOptions, exclude=TARGET_ONLY)
        b = _verb(sub, "build", "a board's bitstream (amaranth-boards platform, PLL to the twin's clock), with its "
                  "report and manifest", boards, True, "report")
        b.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the bitstream, report and "
                       "build files")
        b.add_argument("--freq", type=float, metavar="MHZ", help="the twin's clock (default: the board device's, "
                       "up5k 24, ecp5 50); the PLL's nearest is used")
        b.add_argument("--force", action="store_true", help="replace DIR even if it holds files kgen did not write")
        add_arguments(b, VerilogOptions, exclude=TARGET_ONLY)
        pl = _verb(sub, "plan", "the lanes and update units that fit the device and meet a latency, from the "
                   "analytic cost model (no tools)", devices, False, "plan")
        pl.add_argument("--latency-us", type=float, metavar="X", help="the latency per inference to meet, in "
                        "microseconds (default: the fastest that fits)")
        pl.add_argument("--plot", metavar="FILE", help="write the latency / LUT Pareto plot here (png, pdf, svg)")
        add_arguments(pl, VerilogOptions, exclude=TARGET_ONLY + ("lanes", "units"))
        sim = _verb(sub, "simulate", "run the board design in Verilator with its UART on a pseudo-terminal, for "
                    "`kgen run --view board --port PATH`", None, False, None)
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
        if a.fpga_verb == "build":
            from .boards import board
            from .build import fpga_build

            from kgen.fsutil import refuse_own_inputs

            board(a.board)  # an unknown board is refused before the model is read
            refuse_own_inputs([("-o", a.output)], [("model", a.model)])
            res = fpga_build(load_model(a.model), a.board, a.output, twin, a.freq, a.seed, force=a.force)
            if a.json:
                doc = res.report.as_dict()
                doc["board"] = {"name": res.board.name, "bitstream": str(res.folder / res.bitstream),
                                "sha256": res.sha256, "pll_mhz": res.pll_mhz}
                print(json.dumps(finite(doc), indent=1, sort_keys=True))
            else:
                print("\n".join(res.report.lines()))
                print(f"  bitstream: {res.folder / res.bitstream} (sha256 {res.sha256[:16]}...)")
            return
        device(a.device)  # an unknown device is refused before the model is read
        if a.fpga_verb == "plan":
            from .planner import check_latency, fpga_plan, pareto_plot

            check_latency(a.latency_us)
            plan = fpga_plan(load_model(a.model), a.device, twin, a.latency_us)
            if a.plot:
                pareto_plot(plan, a.plot)
            if a.json:
                print(json.dumps(finite(plan.as_dict()), indent=1, sort_keys=True))
            else:
                print("\n".join(plan.lines()))
                if a.plot:
                    print(f"  plot: {a.plot}")
            return
        model = load_model(a.model)
        rep = fpga_report(model, a.device, twin, a.freq, a.seed)
        if a.json:
            print(json.dumps(finite(rep.as_dict()), indent=1, sort_keys=True))
        else:
            print("\n".join(rep.lines()))


FPGA = FpgaCommand()

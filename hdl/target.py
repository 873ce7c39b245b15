"""`kgen --target verilog MODEL -o DIR`: the Euler core's Verilog and its manifest.

Writes `kgen_euler.v` (one self-contained module, Amaranth's Verilog back
end), `kgen_euler.json` (formats, lanes, cycle formula and counts, ports,
the lowered program and, with `--resources`, Yosys's cell counts). Formats and step counts come from the model's stored
`kgen quantize` choices (formats, steps, lanes, units), overridden by flags. The
circuit digest is in both the Verilog header and the manifest.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from kgen.circuit import Circuit
from kgen.codegen.registry import Target

from .source import TwinChoices


@dataclass(frozen=True)
class VerilogOptions:
    model: str
    choices: TwinChoices
    debug: bool
    resources: bool


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .source import add_twin_arguments

    add_twin_arguments(p)
    p.add_argument("--no-debug", action="store_true", help="leave out the per-step debug port")
    p.add_argument("--resources", action="store_true", help="also write a Yosys resource report (stat -json)")


def options_from_args(a: argparse.Namespace) -> VerilogOptions:
    from .source import choices_from_args

    return VerilogOptions(model=a.model, choices=choices_from_args(a), debug=not a.no_debug,
                          resources=bool(a.resources))


def generate(circuit: Circuit, options: VerilogOptions, folder: Path) -> list[str]:
    from kgen.emulation.lower import lower

    from .export import TOP, manifest, verilog_text
    from .plan import make_plan
    from .source import hdl_config, quant_config

    choices = options.choices
    cfg = quant_config(circuit, options.model, choices)
    program = lower(circuit, cfg, reverse=choices.reverse)
    plan = make_plan(program, hdl_config(choices, cfg, debug=options.debug))
    files = [f"{TOP}.v", f"{TOP}.json"]
    (folder / f"{TOP}.v").write_text(verilog_text(plan))
    doc = manifest(plan)
    if options.resources:
        from .resources import resource_report

        doc["resources"] = resource_report(plan).as_dict()
    (folder / f"{TOP}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return files


TARGET = Target(
    name="verilog",
    description="the fixed-point Euler twin as synthesizable Verilog (Amaranth), with its manifest",
    add_arguments=add_arguments,
    options_from_args=options_from_args,
    generate=generate,
)

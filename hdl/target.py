"""`kgen --target verilog MODEL -o DIR`: the Euler core's Verilog and its manifest.

Writes `kgen_euler.v` (one self-contained module, Amaranth's Verilog back
end) and `kgen_euler.json` (formats, lanes, cycle formula and counts, ports,
the lowered program and, with `--resources`, Yosys's cell counts). Formats
and step counts come from the model's stored `kgen quantize` choices, the
flags overriding (emulation.views.twin_config, as the fixed and rtl views);
lanes, units and storage from the flags, else the model's hdl section, else
1 (hdl.source.hdl_config). The circuit digest is in both the Verilog header
and the manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kgen.emulation.views import integrator_format_option, read_format_option
from kgen.options import option, reverse_option, steps_option
from kgen.qformat import QFormat
from kgen.quant import Storage
from kgen.targets import Target

from .source import check_twin_options, lanes_option, storage_option, units_option


@dataclass(frozen=True)
class VerilogOptions:
    title = "verilog target"
    lanes: int | None = lanes_option()
    units: int | None = units_option()
    steps: int | tuple[int, ...] | None = steps_option()
    read_format: QFormat | None = read_format_option()
    integrator_format: QFormat | None = integrator_format_option()
    storage: Storage | None = storage_option()
    reverse: bool = reverse_option()
    no_debug: bool = option(False, help="leave out the per-step debug port")
    resources: bool = option(False, help="also write a Yosys resource report (stat -json)")

    def __post_init__(self):
        check_twin_options(self)


class VerilogTarget(Target):
    name = "verilog"
    description = "the fixed-point Euler twin as synthesizable Verilog (Amaranth), with its manifest"
    Options = VerilogOptions

    def generate(self, model, folder: Path, options: VerilogOptions) -> list[str]:
        from .export import TOP, manifest, verilog_text
        from .source import twin_plan

        plan = twin_plan(model, options, debug=not options.no_debug)
        files = [f"{TOP}.v", f"{TOP}.json"]
        (folder / f"{TOP}.v").write_text(verilog_text(plan))
        doc = manifest(plan)
        if options.resources:
            from .resources import resource_report

            doc["resources"] = resource_report(plan).as_dict()
        (folder / f"{TOP}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        return files


TARGET = VerilogTarget()

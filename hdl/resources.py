"""A Yosys resource report of the core: generic synthesis, then `stat -json` (parsed, never scraped).

`synth -flatten -run begin:fine` maps the core onto Yosys's generic word-level
cells; memories stay $mem cells (block RAM on an FPGA) and their bits come
from the plan (`memory_bits`). The figures are
architecture-neutral estimates for comparing lane counts and circuits, not
a place-and-route result.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kgen.errors import ToolError, expected_found

from .export import TOP, verilog_text
from .plan import Plan
from .tools import YOSYS


@dataclass(frozen=True)
class ResourceReport:
    cells: int
    flip_flop_bits: int
    memory_bits: int
    memories: int
    multipliers: int
    cell_types: dict
    yosys: str
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


_FF = ("$dff", "$sdff", "$adff", "$dffe", "$sdffe", "$sdffce", "$adffe", "$aldff", "$dffsr")


def resource_report(plan: Plan, timeout: float = 900) -> ResourceReport:
    yosys = YOSYS.find()
    with tempfile.TemporaryDirectory(prefix="kgen-yosys-") as tmp:
        src, out = Path(tmp) / f"{TOP}.v", Path(tmp) / "stat.json"
        src.write_text(verilog_text(plan))
        script = (f"read_verilog {src}; synth -flatten -top {TOP} -run begin:fine; opt -full; "
                  f"memory_collect; tee -q -o {out} stat -width -json")
        t0 = time.time()
        try:
            run = subprocess.run([str(yosys), "-q", "-p", script], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolError(expected_found("yosys synthesis", f"to finish within {timeout:g} s", "a timeout")) from None
        if run.returncode != 0 or not out.is_file():
            tail = (run.stderr or run.stdout).strip().splitlines()
            raise ToolError(expected_found("yosys synthesis", "exit status 0", tail[-1] if tail else "no output"))
        doc = json.loads(out.read_text())
        seconds = time.time() - t0
    design = doc.get("design") or next(iter(doc.get("modules", {}).values()), {})
    types = {k: int(v) for k, v in sorted(design.get("num_cells_by_type", {}).items())}
    ff_bits = 0
    # stat -width names cells "$sdff_32" (type_width); flip-flop bits are the sum of widths
    for name, count in types.items():
        base, _, width = name.rpartition("_")
        if base in _FF and width.isdigit():
            ff_bits += int(width) * count
    mems = sum(c for n, c in types.items() if n.split("_")[0] in ("$mem", "$mem_v2") or n.startswith("$mem"))
    mults = sum(c for n, c in types.items() if n.startswith(("$mul", "$macc")))
    version = subprocess.run([str(yosys), "-V"], capture_output=True, text=True).stdout.strip()
    return ResourceReport(int(design.get("num_cells", 0)), ff_bits, memory_bits(plan), mems, mults, types, version,
                          seconds)


def memory_bits(plan: Plan) -> int:
    """Bits held in memories (ROMs and, in RAM mode, the node stores), from the plan's sizes.

    Yosys 0.23's `stat` does not count $mem_v2 bits, so they are computed here: lane
    parameter ROMs, tanh tables (one per lane), coefficient ROMs and, when the state is in
    RAM, the accumulators (2 sides x L lanes), the integrator, the residue and the
    double-buffered read copy (U banks each).
    """
    from kgen.quant import Storage

    from .fixed import hw_width

    p = plan.program
    bits = plan.lanes * len(plan.lane_words[0]) * plan.word_bits
    if p.tanh is not None:
        bits += plan.lanes * p.tanh.spec.segments * 2 * p.tanh.spec.out_frac
    bits += plan.units * len(p.windows) * plan.groups * max(hw_width(w.coef_fmt) for w in p.windows)
    if plan.storage is Storage.RAM:
        node = 2 * plan.lanes * hw_width(p.acc) + hw_width(p.integrator) + 2 * hw_width(p.read)
        node += hw_width(p.residue) if p.read_feedback else 0
        bits += plan.units * plan.groups * node
    return bits

"""`kgen fpga report`: the board design (HostTop) of a model synthesized, placed and routed for one device.

The design reported is what goes on the board: the Euler core behind the
UART host protocol, four pins (clock, reset, rx, tx). Resources come from
Yosys's cell counts (LUT, FF, DSP, block RAM, SPRAM) beside nextpnr's
packed utilization; Fmax from nextpnr's timing report for the requested
clock; cycles per inference from the core's plan (the cycle formula the
cocotb benches assert), so latency = cycles / Fmax. Tool versions and the
seed are recorded so a figure can be reproduced.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kgen.errors import InputError, expected_found

from .devices import Device, Resource, device as find_device
from .pnr import CriticalPath, place_and_route
from .synth import MemoryUse, check_fit, synthesize

DEFAULT_BAUD = 115200
XC7_NOTE = ("7-series: Yosys synth_xilinx cell counts only; there is no open place and route for it, so no Fmax "
            "or latency")


@dataclass(frozen=True)
class ResourceUse:
    resource: Resource
    used: int
    available: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.available if self.available else (0.0 if not self.used else float("inf"))


@dataclass(frozen=True)
class FpgaReport:
    model: str
    digest: str
    device: Device
    lanes: int
    units: int
    storage: str
    integrator: str
    read: str
    steps: tuple[int, ...]
    freq_mhz: float  # requested
    baud: int
    resources: tuple[ResourceUse, ...]
    memories: tuple[MemoryUse, ...]
    multipliers: tuple[tuple[str, int], ...]
    cycles: int  # Euler-step cycles per inference (the plan)
    formula: str
    fmax_mhz: float | None  # achieved after place and route (None: not placed)
    critical: CriticalPath | None
    utilization: dict  # nextpnr cell type -> (used, available)
    tools: dict  # tool -> version line
    seed: int
    seconds: dict  # step -> seconds
    notes: tuple[str, ...] = field(default=())
    design: str = "kgen_board (Euler core + UART host protocol)"

    @property
    def met(self) -> bool | None:
        return None if self.fmax_mhz is None else self.fmax_mhz >= self.freq_mhz

    @property
    def latency_us(self) -> float | None:
        return None if self.fmax_mhz is None else self.cycles / self.fmax_mhz

    @property
    def inferences_per_s(self) -> float | None:
        return None if self.fmax_mhz is None else self.fmax_mhz * 1e6 / self.cycles

    def as_dict(self) -> dict:
        return {
            "model": self.model, "digest": self.digest,
            "device": {"name": self.device.name, "part": self.device.part, "family": self.device.family.value,
                       "placed": self.device.placed},
            "design": {"top": self.design, "lanes": self.lanes,
                       "units": self.units, "storage": self.storage, "integrator": self.integrator,
                       "read": self.read, "steps": list(self.steps), "baud": self.baud},
            "resources": {r.resource.value: {"used": r.used, "available": r.available,
                                             "percent": round(r.percent, 2)} for r in self.resources},
            "memories": [{"holds": m.holds, "owner": m.owner, "cell": m.cell, "count": m.count}
                         for m in self.memories],
            "multipliers": {block: n for block, n in self.multipliers},
            "nextpnr_utilization": {k: {"used": u, "available": a} for k, (u, a) in self.utilization.items()},
            "timing": {"requested_mhz": self.freq_mhz, "fmax_mhz": self.fmax_mhz, "met": self.met,
                       "critical_path": None if self.critical is None else {
                           "from": self.critical.start, "to": self.critical.end,
                           "delay_ns": self.critical.delay_ns, "logic_levels": self.critical.logic_levels}},
            "performance": {"cycles_per_inference": self.cycles, "formula": self.formula,
                            "latency_us": self.latency_us, "inferences_per_s": self.inferences_per_s},
            "tools": dict(self.tools), "seed": self.seed, "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        d = self.device
        out = [f"{self.model} on {d.name} ({d.part}): L={self.lanes} U={self.units}, {self.storage} state, "
               f"integrator {self.integrator}, read {self.read}, steps {','.join(map(str, self.steps))}"]
        for r in self.resources:
            out.append(f"  {r.resource.value:<6}{r.used:>8} of {r.available:<8}({r.percent:5.1f} %)")
        for m in self.memories:
            out.append(f"  memory: {m.holds} -> {m.count} x {m.cell}")
        if self.fmax_mhz is not None:
            verdict = "met" if self.met else "NOT met"
            line = f"  Fmax {self.fmax_mhz:.2f} MHz against {self.freq_mhz:g} MHz requested ({verdict})"
            if self.critical is not None and not self.met:
                line += (f"; critical path {self.critical.start} -> {self.critical.end}, "
                         f"{self.critical.delay_ns:.1f} ns, {self.critical.logic_levels} logic levels")
            out.append(line)
            out.append(f"  {self.cycles} cycles per inference: {self.latency_us:.1f} us, "
                       f"{self.inferences_per_s:,.0f} inferences/s at Fmax")
        else:
            out.append(f"  {self.cycles} cycles per inference (no Fmax: not placed)")
        seed = f"; seed {self.seed}" if self.fmax_mhz is not None else ""
        out.append("  tools: " + "; ".join(f"{v}" for v in self.tools.values()) + seed)
        out += [f"  note: {n}" for n in self.notes]
        return out


def check_freq(mhz: float) -> float:
    if not (isinstance(mhz, (int, float)) and 0 < mhz <= 1000):
        raise InputError(expected_found("--freq", "a clock in MHz, 0 < f <= 1000", str(mhz)))
    return float(mhz)


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 31:
        raise InputError(expected_found("--seed", "a seed in 0..2147483647", str(seed)))
    return seed


def fpga_report(model, device_name: str, twin=None, freq_mhz: float | None = None, seed: int = 1,
                baud: int = DEFAULT_BAUD, work: Path | None = None) -> FpgaReport:
    """Synthesize (and, where an open flow exists, place and route) the model's board design for a device.

    `twin` is the verilog target's options (lanes, units, steps, formats, storage; default: the model's
    stored choices); `work` keeps the tools' files there (default: a temporary folder, removed).
    """
    from kgen.progress import bar

    from ..host_top import BOARD_TOP, host_verilog
    from ..source import twin_plan
    from ..target import VerilogOptions
    from ..uart import divisor_for

    dev = find_device(device_name)
    mhz = check_freq(dev.default_mhz if freq_mhz is None else freq_mhz)
    check_seed(seed)
    plan = twin_plan(model, twin if twin is not None else VerilogOptions(), debug=True)
    divisor = divisor_for(mhz * 1e6, baud)
    # tools first: a missing one is one line before minutes of work
    from ..tools import YOSYS
    from .tools import nextpnr

    YOSYS.find()
    if dev.placed:
        nextpnr(dev.family).find()
    with tempfile.TemporaryDirectory(prefix="kgen-fpga-") as tmp:
        folder = Path(work) if work is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        src = folder / f"{BOARD_TOP}.v"
        src.write_text(host_verilog(plan, divisor))
        with bar(2 if dev.placed else 1, f"fpga {dev.name}", "step") as progress:
            progress.set_postfix_str("yosys synthesis")
            synth = synthesize(dev, src, BOARD_TOP, folder)
            progress.update(1)
            check_fit(synth)
            placed = None
            if dev.placed:
                progress.set_postfix_str("nextpnr place and route")
                placed = place_and_route(synth, mhz, seed, folder)
                progress.update(1)
    return assemble(plan, dev, synth, placed, mhz, baud, seed)


def assemble(plan, dev: Device, synth, placed, mhz: float, baud: int, seed: int,
             design: str | None = None) -> FpgaReport:
    """The report from the plan and the tools' results (placed None: synthesis only)."""
    p = plan.program
    resources = tuple(ResourceUse(r, synth.used.get(r, 0), dev.available(r)) for r in Resource
                      if dev.available(r) or synth.used.get(r, 0))
    tools = {"yosys": synth.yosys}
    seconds = {"synthesis": synth.seconds}
    notes = []
    if placed is not None:
        tools[f"nextpnr-{dev.family.value}"] = placed.nextpnr
        seconds["place_and_route"] = placed.seconds
    else:
        notes.append(XC7_NOTE)
    if dev.available(Resource.SPRAM) and not synth.used.get(Resource.SPRAM):
        notes.append("SPRAM unused: it has no initial contents in the bitstream, so ROMs stay in block RAM")
    return FpgaReport(
        model=p.name, digest=p.digest, device=dev, lanes=plan.lanes, units=plan.units, storage=plan.storage.value,
        integrator=str(p.integrator), read=str(p.read), steps=tuple(w.steps for w in p.windows), freq_mhz=mhz,
        baud=baud, resources=resources, memories=synth.memories, multipliers=synth.multipliers,
        cycles=plan.run_cycles(), formula=plan.summary()["formula"],
        fmax_mhz=None if placed is None else placed.fmax_mhz, critical=None if placed is None else placed.critical,
        utilization={} if placed is None else placed.utilization, tools=tools, seed=seed, seconds=seconds,
        notes=tuple(notes), **({} if design is None else {"design": design}))

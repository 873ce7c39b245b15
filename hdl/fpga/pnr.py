"""Place and route with nextpnr, read from its `--report` JSON (utilization, Fmax, critical paths), never its text.

nextpnr stops with an error when timing fails; `--timing-allow-fail` lets it
finish so the achieved Fmax is reported against the request (the report
says whether it met). The seed is passed explicitly, so the same design,
device and seed give the same placement, the same figures and, later, the
same bitstream.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import FitError, ToolError, expected_found

from .devices import Family
from .synth import Synthesis, block_of
from .tools import nextpnr, version


@dataclass(frozen=True)
class CriticalPath:
    start: str  # the design block the path starts in (core.upd0, core.lane3, ...)
    end: str
    delay_ns: float
    logic_levels: int


@dataclass(frozen=True)
class Placement:
    utilization: dict  # nextpnr cell type -> (used, available)
    fmax_mhz: float  # achieved on the design's clock
    requested_mhz: float
    critical: CriticalPath | None
    routed: Path  # the routed design (.asc for iCE40, .config for ECP5): the bitstream packer's input
    nextpnr: str
    seed: int
    seconds: float

    @property
    def met(self) -> bool:
        return self.fmax_mhz >= self.requested_mhz


def _main_clock(fmax: dict) -> str:
    """The design clock among the report's domains (nextpnr adds one for constant-driven DSP clocks)."""
    named = sorted(k for k in fmax if "clk" in k and "PACKER" not in k)
    if not named:
        raise ToolError(expected_found("nextpnr's report", "an Fmax for the design clock", ", ".join(fmax) or "none"))
    return min(named, key=lambda k: fmax[k]["achieved"])


def _critical(paths: list, clock: str) -> CriticalPath | None:
    for p in paths:
        if clock in p.get("from", "") and clock in p.get("to", ""):
            segs = p.get("path", [])
            if not segs:
                return None
            return CriticalPath(block_of(segs[0]["from"]["cell"]), block_of(segs[-1]["to"]["cell"]),
                                round(sum(s["delay"] for s in segs), 3), sum(s["type"] == "logic" for s in segs))
    return None


def place_and_route(s: Synthesis, mhz: float, seed: int, work: Path, timeout: float = 3600) -> Placement:
    device = s.device
    exe = nextpnr(device.family).find()
    family = device.family.value
    work = work.resolve()
    report, log = work / f"nextpnr-{device.name}.json", work / f"nextpnr-{device.name}.log"
    routed = work / (f"{s.top}.{device.name}.asc" if device.family is Family.ICE40 else f"{s.top}.{device.name}.config")
    out_flag = "--asc" if device.family is Family.ICE40 else "--textcfg"
    # file names relative to the work folder, nextpnr running there: YoWASP's sandbox sees only its working folder
    cmd = [str(exe), *device.nextpnr_args, "--json", s.netlist.name, "--report", report.name, "--freq", f"{mhz:g}",
           "--seed", str(seed), "--timing-allow-fail", out_flag, routed.name, "-q", "-l", log.name]
    if device.family is Family.ICE40:
        cmd.append("--pcf-allow-unconstrained")  # the report top's four pins are placed by the tool
    t0 = time.monotonic()
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=work)
    except subprocess.TimeoutExpired:
        raise ToolError(expected_found(f"nextpnr-{family}", f"to finish within {timeout:g} s", "a timeout")) from None
    if run.returncode != 0 or not report.is_file():
        text = (run.stderr or "") + (log.read_text() if log.is_file() else "")
        errors = [ln for ln in text.splitlines() if ln.startswith("ERROR")]
        line = errors[-1] if errors else (text.strip().splitlines() or ["no output"])[-1]
        if "no BELs remaining" in line or "Unable to place" in line:
            raise FitError(expected_found(f"{device.name} ({device.part})", "a design nextpnr can place",
                                          f"{line.removeprefix('ERROR: ')} (log: {log})"))
        raise ToolError(expected_found(f"nextpnr-{family} for {device.name}", "exit status 0", f"{line} (log: {log})"))
    return read_placement(report, routed, mhz, seed, version(str(exe)), time.monotonic() - t0)


def read_placement(report: Path, routed: Path, mhz: float, seed: int, nextpnr_version: str,
                   seconds: float) -> Placement:
    """Utilization, Fmax and the critical path from nextpnr's `--report` JSON."""
    doc = json.loads(report.read_text())
    clock = _main_clock(doc["fmax"])
    util = {k: (int(v["used"]), int(v["available"])) for k, v in sorted(doc.get("utilization", {}).items())}
    return Placement(util, float(doc["fmax"][clock]["achieved"]), float(mhz),
                     _critical(doc.get("critical_paths", []), clock), routed, nextpnr_version, seed, seconds)

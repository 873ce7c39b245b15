"""Synthesis with Yosys for a device family, read from Yosys's JSON (`stat -json` and the netlist), never its text.

The netlist's cell names keep the design's hierarchy (`core.lane0.rom.0.3`),
so each block RAM, SPRAM or distributed-RAM cell is credited to the memory
it implements, and each multiplier to the block it sits in: the report can
say which memory holds what.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import FitError, ToolError, expected_found

from ..tools import YOSYS
from .devices import Device, Family, Resource
from .tools import version

#: Yosys cell types per family and resource (a prefix match where the name ends in '*').
CELLS = {
    Family.ICE40: {Resource.LUT: ("SB_LUT4",), Resource.FF: ("SB_DFF*",), Resource.DSP: ("SB_MAC16",),
                   Resource.BRAM: ("SB_RAM40_4K*",), Resource.SPRAM: ("SB_SPRAM256KA",)},
    Family.ECP5: {Resource.LUT: ("LUT4",), Resource.FF: ("TRELLIS_FF",), Resource.DSP: ("MULT18X18D",),
                  Resource.BRAM: ("DP16KD",)},
    Family.XC7: {Resource.LUT: ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"),
                 Resource.FF: ("FDRE", "FDSE", "FDCE", "FDPE"), Resource.DSP: ("DSP48E1",),
                 Resource.BRAM: ("RAMB36E1", "RAMB18E1")},
}
#: Distributed (LUT) RAM cells: memories Yosys kept out of block RAM.
LUTRAM = {Family.ICE40: (), Family.ECP5: ("TRELLIS_DPR16X4",),
          Family.XC7: ("RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM256X1S", "RAM32X1S",
                       "RAM64X1S", "RAM128X1S")}


def _script(device: Device, src: Path, top: str, netlist: Path, stat: Path) -> str:
    synth = {Family.ICE40: f"synth_ice40 {'-dsp ' if device.available(Resource.DSP) else ''}-top {top}",
             Family.ECP5: f"synth_ecp5 -top {top}",
             Family.XC7: f"synth_xilinx -family xc7 -flatten -top {top}"}[device.family]
    return f"read_verilog {src}; {synth}; write_json {netlist}; tee -q -o {stat} stat -json"


def _matches(cell: str, patterns) -> bool:
    return any(cell.startswith(p[:-1]) if p.endswith("*") else cell == p for p in patterns)


@dataclass(frozen=True)
class MemoryUse:
    """The cells one memory of the design became."""

    owner: str  # its hierarchical name, e.g. core.lane0.rom
    holds: str  # what it is, in words
    cell: str  # the cell type (SB_RAM40_4K, DP16KD, TRELLIS_DPR16X4, ...)
    count: int


@dataclass(frozen=True)
class Synthesis:
    device: Device
    top: str
    netlist: Path  # the JSON netlist nextpnr reads
    cells: dict  # cell type -> count (stat -json)
    used: dict  # Resource -> count
    memories: tuple[MemoryUse, ...]
    multipliers: tuple[tuple[str, int], ...]  # (block, DSP cells)
    yosys: str
    seconds: float


_HOLDS = ((r"core\.lane(\d+)\.rom", "lane {0} parameter ROM"),
          (r"core\.lane(\d+)\.k(\d+)\.lane\d+_k\d+_tanh\d+\.rom", "lane {0} kind {1} tanh table"),
          (r"core\.coef(\d+)", "unit {0} coefficients dt/C"), (r"core\.r(\d+)", "bank {0} read copy"),
          (r"core\.x(\d+)", "bank {0} integrator state"), (r"core\.c(\d+)", "bank {0} read residue"),
          (r"core\.lane(\d+)\.(des|src)", "lane {0} {1} accumulator"), (r"in_buf", "host input buffer"),
          (r"out_buf", "host output buffer"))


def holds(owner: str) -> str:
    for pattern, text in _HOLDS:
        m = re.fullmatch(pattern, owner)
        if m:
            return text.format(*m.groups())
    return owner


def _memory_owner(cell_name: str) -> str:
    """`core.lane0.rom.0.3` -> `core.lane0.rom` (Yosys appends the tile indices of a split memory)."""
    return re.sub(r"(\.\d+)+$", "", cell_name.split("$")[0].rstrip("."))


def block_of(cell_name: str) -> str:
    """The design block a cell sits in: `core.lane0.k0.$1_SB_MAC16_O` -> `core.lane0`."""
    parts = [p for p in cell_name.split(".") if p and not p.startswith("$")]
    if parts[:1] == ["host"]:  # a board top (board_top.BoardTop) holds HostTop as `host`
        parts = parts[1:]
    return ".".join(parts[:2]) if parts and parts[0] == "core" else (parts[0] if parts else cell_name)


def synthesize(device: Device, src: Path, top: str, work: Path, timeout: float = 3600) -> Synthesis:
    """Yosys synthesis of `src` (module `top`) for the device's family, in folder `work`."""
    yosys = YOSYS.find()
    netlist, stat = work / f"{top}.{device.family.value}.json", work / f"{top}.{device.family.value}.stat.json"
    log = work / f"yosys-{device.family.value}.log"
    t0 = time.monotonic()
    try:
        with open(log, "w") as fh:
            run = subprocess.run([str(yosys), "-q", "-p", _script(device, src, top, netlist, stat)], stdout=fh,
                                 stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(expected_found("yosys synthesis", f"to finish within {timeout:g} s", "a timeout")) from None
    if run.returncode != 0 or not stat.is_file():
        tail = log.read_text().strip().splitlines()
        raise ToolError(expected_found(f"yosys synthesis for {device.name}", "exit status 0",
                                       (tail[-1] if tail else "no output") + f" (log: {log})"))
    return read_synthesis(device, top, netlist, stat, version(str(yosys)), time.monotonic() - t0)


def read_synthesis(device: Device, top: str, netlist: Path, stat: Path, yosys: str, seconds: float,
                   prefix: str = "") -> Synthesis:
    """Resources, memories and multipliers from Yosys's `stat -json` and its netlist (module `top`).

    `prefix`: the hierarchy above HostTop's (a board top's `host.`), dropped from cell names so a memory or
    block reads the same on every top."""
    design = json.loads(stat.read_text()).get("design", {})
    cells = {k: int(v) for k, v in sorted(design.get("num_cells_by_type", {}).items())}
    used = {r: sum(n for c, n in cells.items() if _matches(c, pats)) for r, pats in CELLS[device.family].items()}
    if device.family is Family.XC7:  # a RAMB18 is half a RAMB36
        used[Resource.BRAM] = cells.get("RAMB36E1", 0) + (cells.get("RAMB18E1", 0) + 1) // 2
    module = json.loads(netlist.read_text())["modules"][top]
    used[Resource.IO] = sum(len(p["bits"]) for p in module["ports"].values())
    mem_types = CELLS[device.family][Resource.BRAM] + CELLS[device.family].get(Resource.SPRAM, ()) \
        + LUTRAM[device.family]
    mems: dict[tuple[str, str], int] = {}
    mults: dict[str, int] = {}
    for name, cell in sorted(module["cells"].items()):
        name = name.removeprefix(prefix)
        if _matches(cell["type"], mem_types):
            key = (_memory_owner(name), cell["type"])
            mems[key] = mems.get(key, 0) + 1
        elif _matches(cell["type"], CELLS[device.family][Resource.DSP]):
            mults[block_of(name)] = mults.get(block_of(name), 0) + 1
    memories = tuple(MemoryUse(o, holds(o), t, n) for (o, t), n in sorted(mems.items()))
    return Synthesis(device, top, netlist, cells, used, memories, tuple(sorted(mults.items())), yosys, seconds)


def check_fit(s: Synthesis) -> None:
    """FitError naming every resource the design needs more of than the device has, and by how much."""
    over = [(r, s.used.get(r, 0), s.device.available(r)) for r in Resource if s.used.get(r, 0) > s.device.available(r)]
    if over:
        raise FitError(expected_found(
            f"{s.device.name} ({s.device.part})", "a design within the device",
            ", ".join(f"{n} {r.label} of {a} ({n - a} over)" for r, n, a in over)))

"""The FPGA devices kgen reports on: what each holds, how its tools are called, and the clock it is aimed at.

Capacities are the vendors' data-sheet figures (the nextpnr devices agree:
its report's `available` counts are taken over them when it runs). The
xc7 parts have no open place and route, so they get Yosys's synth_xilinx
cell counts only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kgen.errors import InputError, expected_found


class Family(enum.Enum):
    ICE40 = "ice40"
    ECP5 = "ecp5"
    XC7 = "xc7"


class Resource(enum.Enum):
    """What a design uses of a device, in the device's own units."""

    LUT = "LUT"  # 4-input LUTs (ice40, ECP5), LUT1..LUT6 (xc7)
    FF = "FF"
    DSP = "DSP"  # SB_MAC16 (16 x 16), MULT18X18D (18 x 18), DSP48E1 (25 x 18)
    BRAM = "BRAM"  # SB_RAM40_4K (4 kbit), DP16KD (18 kbit), RAMB36E1 (36 kbit; two RAMB18 count one)
    SPRAM = "SPRAM"  # SB_SPRAM256KA (256 kbit, UP5K only)
    IO = "IO"

    @property
    def label(self) -> str:
        return {"LUT": "LUTs", "FF": "flip-flops", "DSP": "DSP multipliers", "BRAM": "block RAMs",
                "SPRAM": "SPRAMs", "IO": "I/O pins"}[self.name]


@dataclass(frozen=True)
class Device:
    name: str  # the --device value
    family: Family
    part: str  # the vendor's part name
    nextpnr_args: tuple[str, ...]  # device and package (empty: no open place and route)
    capacity: dict  # Resource -> count
    bram_kbit: int  # bits of one block RAM, in kbit
    default_mhz: float  # the clock kgen aims at when --freq is not given

    @property
    def placed(self) -> bool:
        return bool(self.nextpnr_args)

    def available(self, r: Resource) -> int:
        return int(self.capacity.get(r, 0))


def _cap(lut, ff, dsp, bram, io, spram=0) -> dict:
    return {Resource.LUT: lut, Resource.FF: ff, Resource.DSP: dsp, Resource.BRAM: bram, Resource.SPRAM: spram,
            Resource.IO: io}


DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("up5k", Family.ICE40, "iCE40UP5K-SG48", ("--up5k", "--package", "sg48"),
           _cap(5280, 5280, 8, 30, 39, spram=4), 4, 24.0),
    Device("hx8k", Family.ICE40, "iCE40HX8K-CT256", ("--hx8k", "--package", "ct256"),
           _cap(7680, 7680, 0, 32, 206), 4, 24.0),
    Device("ecp5-25k", Family.ECP5, "LFE5U-25F-CABGA256", ("--25k", "--package", "CABGA256"),
           _cap(24288, 24288, 28, 56, 197), 18, 50.0),
    Device("ecp5-85k", Family.ECP5, "LFE5U-85F-CABGA381", ("--85k", "--package", "CABGA381"),
           _cap(83640, 83640, 156, 208, 205), 18, 50.0),
    Device("xc7a35t", Family.XC7, "XC7A35T", (), _cap(20800, 41600, 90, 50, 250), 36, 100.0),
    Device("xc7a100t", Family.XC7, "XC7A100T", (), _cap(63400, 126800, 240, 135, 300), 36, 100.0),
)}


def device(name: str) -> Device:
    """The device called `name`; an unknown name is one line listing the known ones."""
    try:
        return DEVICES[name]
    except KeyError:
        raise InputError(expected_found("--device", "one of " + ", ".join(DEVICES), repr(name))) from None

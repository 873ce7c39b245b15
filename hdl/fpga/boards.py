"""The boards `kgen fpga build` makes bitstreams for: an amaranth-boards platform and the device it carries.

Each board's platform is amaranth-boards' own (pins, clock, I/O standards,
the toolchain templates); kgen adds only which of its devices (devices.py)
the board has, so the build's report is held to the same figures and
baselines as `kgen fpga report` on that device.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from kgen.errors import InputError, expected_found

from .devices import Device, device


@dataclass(frozen=True)
class Board:
    name: str  # the --board value
    title: str
    platform: str  # "module:Class" in amaranth_boards
    device_name: str  # in devices.DEVICES
    clock: str  # the platform's clock resource
    clock_mhz: float

    @property
    def device(self) -> Device:
        return device(self.device_name)

    def platform_class(self):
        module, cls = self.platform.split(":")
        try:
            return getattr(importlib.import_module(module), cls)
        except ImportError:
            from kgen.errors import ToolError

            raise ToolError(expected_found(f"the {self.title} platform", "amaranth-boards installed",
                                           "no module amaranth_boards (pip install amaranth-boards)")) from None


BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("icebreaker", "1BitSquared iCEBreaker (iCE40 UP5K)", "amaranth_boards.icebreaker:ICEBreakerPlatform",
          "up5k", "clk12", 12.0),
    Board("ulx3s", "Radiona ULX3S 25F (ECP5 LFE5U-25F)", "amaranth_boards.ulx3s:ULX3S_25F_Platform",
          "ecp5-25k", "clk25", 25.0),
)}


def board(name: str) -> Board:
    """The board called `name`; an unknown name is one line listing the known ones."""
    try:
        return BOARDS[name]
    except KeyError:
        raise InputError(expected_found("--board", "one of " + ", ".join(BOARDS), repr(name))) from None

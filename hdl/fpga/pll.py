"""The board clock multiplied to the twin's clock: iCE40 SB_PLL40_PAD and ECP5 EHXPLLL settings.

The searches are those of icestorm's `icepll` (simple feedback) and
Trellis's `ecppll` (feedback from CLKOP): every divider setting within the
data sheets' PFD and VCO ranges, the one whose output is closest to the
request (ties: the lowest VCO, then the smallest dividers, so the choice is
deterministic). The achieved frequency, not the requested one, is what the
build constrains and reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from kgen.errors import InputError, expected_found


@dataclass(frozen=True)
class Ice40Pll:
    """SB_PLL40 with FEEDBACK_PATH SIMPLE: f_out = f_in (DIVF + 1) / ((DIVR + 1) 2^DIVQ)."""

    in_mhz: float
    divr: int
    divf: int
    divq: int

    @property
    def pfd_mhz(self) -> float:
        return self.in_mhz / (self.divr + 1)

    @property
    def vco_mhz(self) -> float:
        return self.pfd_mhz * (self.divf + 1)

    @property
    def out_mhz(self) -> float:
        return self.vco_mhz / 2 ** self.divq

    @property
    def filter_range(self) -> int:
        """The loop filter setting for the PFD frequency (iCE40 sysCLOCK PLL design guide)."""
        for limit, value in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
            if self.pfd_mhz < limit:
                return value
        return 6


@dataclass(frozen=True)
class Ecp5Pll:
    """EHXPLLL fed back from CLKOP: f_out = f_in CLKFB_DIV / CLKI_DIV, VCO = f_out CLKOP_DIV."""

    in_mhz: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def out_mhz(self) -> float:
        return self.in_mhz * self.clkfb_div / self.clki_div

    @property
    def vco_mhz(self) -> float:
        return self.out_mhz * self.clkop_div

    @property
    def cphase(self) -> int:
        return (self.clkop_div - 1) // 2  # what ecppll writes for a 0-degree output


def _closest(candidates, want: float, what: str):
    best = min(candidates, key=lambda c: (abs(c[0].out_mhz - want), c[1]), default=None)
    if best is None:
        raise InputError(expected_found("--freq", f"a clock {what} can make", f"{want:g} MHz"))
    return best[0]


def ice40_pll(in_mhz: float, want_mhz: float) -> Ice40Pll:
    cands = []
    for divr in range(16):
        pfd = in_mhz / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                c = Ice40Pll(in_mhz, divr, divf, divq)
                if 16 <= c.out_mhz <= 275:
                    cands.append((c, (vco, divr, divf, divq)))
    return _closest(cands, want_mhz, f"the iCE40 PLL (16 to 275 MHz from {in_mhz:g} MHz)")


def ecp5_pll(in_mhz: float, want_mhz: float) -> Ecp5Pll:
    cands = []
    for clki in range(1, 129):
        if not 3.125 <= in_mhz / clki <= 400:
            continue
        for fb in range(1, 81):
            out = in_mhz * fb / clki
            if not 3.125 <= out <= 400:
                continue
            for op in range(1, 129):
                c = Ecp5Pll(in_mhz, clki, fb, op)
                if 400 <= c.vco_mhz <= 800:
                    cands.append((c, (c.vco_mhz, clki, fb, op)))
    return _closest(cands, want_mhz, f"the ECP5 PLL (3.125 to 400 MHz from {in_mhz:g} MHz)")

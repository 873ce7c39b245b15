"""BoardTop: HostTop on a real board, its clock from the board oscillator through a PLL.

The twin is clocked at the frequency it was placed and routed for (the
PLL's achieved output, at or near the request), not at the oscillator's,
so a board runs as fast as its report says. The sync domain is held in
reset until the PLL has locked and then for POR_US more microseconds:
iCE40 block RAMs read as zeros for about 3 us after configuration
(amaranth's own iCE40 platforms wait the same way), and the parameter
ROMs live there. The UART is the board's USB-serial bridge ("uart" 0).

HostTop itself goes in as the Verilog `kgen fpga report` synthesizes
(module HOST, instance `host`), so a board build and a report on its
device synthesize the same netlist.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module, ResetSignal, Signal
from amaranth.lib import io

from ..host_top import host_verilog
from ..plan import Plan
from .boards import Board
from .devices import Family
from .pll import Ecp5Pll, Ice40Pll

#: reset held this long after the PLL locks (5x the iCE40 BRAM start-up time)
POR_US = 15
#: the Verilog module of HostTop inside the board top
HOST = "kgen_host"


class BoardTop(Elaboratable):
    def __init__(self, plan: Plan, board: Board, pll: Ice40Pll | Ecp5Pll, divisor: int):
        self.plan, self.board, self.pll, self.divisor = plan, board, pll, divisor

    def _pll(self, m: Module, platform, clk_out: Signal, lock: Signal) -> None:
        p = self.pll
        if self.board.device.family is Family.ICE40:
            # the PLL's reference comes straight from its package pin (nextpnr refuses one through a global buffer)
            pin = platform.request(self.board.clock, dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=p.divr, p_DIVF=p.divf, p_DIVQ=p.divq,
                p_FILTER_RANGE=p.filter_range, i_PACKAGEPIN=pin.io, i_RESETB=Const(1), i_BYPASS=Const(0),
                o_PLLOUTGLOBAL=clk_out, o_LOCK=lock)
        else:
            pin = platform.request(self.board.clock, dir="-")
            m.submodules.clk_buf = buf = io.Buffer("i", pin)
            m.submodules.pll = Instance(
                "EHXPLLL", a_FREQUENCY_PIN_CLKI=f"{p.in_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{p.out_mhz:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKI_DIV=p.clki_div,
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p.clkop_div, p_CLKOP_CPHASE=p.cphase, p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p.clkfb_div,
                i_RST=Const(0), i_STDBY=Const(0), i_CLKI=buf.i, i_CLKFB=clk_out, i_PHASESEL0=Const(0),
                i_PHASESEL1=Const(0), i_PHASEDIR=Const(1), i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1),
                i_PLLWAKESYNC=Const(0), i_ENCLKOP=Const(0), o_CLKOP=clk_out, o_LOCK=lock)

    def elaborate(self, platform):
        m = Module()
        clk, lock = Signal(name="twin_clk"), Signal(name="pll_lock")
        self._pll(m, platform, clk, lock)
        platform.add_clock_constraint(clk, self.pll.out_mhz * 1e6)
        # power-on reset: counts in the PLL's clock while it is locked, releases the twin at the end
        m.domains.por = por = ClockDomain("por", reset_less=True)
        m.domains.sync = sync = ClockDomain("sync")
        delay = int(POR_US * self.pll.out_mhz)
        count = Signal(range(delay + 1), init=0)
        m.d.comb += [por.clk.eq(clk), sync.clk.eq(clk), sync.rst.eq(count != delay)]
        with m.If(~lock):
            m.d.por += count.eq(0)
        with m.Elif(count != delay):
            m.d.por += count.eq(count + 1)

        platform.add_file(f"{HOST}.v", host_verilog(self.plan, self.divisor, HOST))
        uart = platform.request("uart", 0)
        m.submodules.host = Instance(HOST, i_clk=ClockSignal("sync"), i_rst=ResetSignal("sync"), i_rx=uart.rx.i,
                                     o_tx=uart.tx.o)
        return m

"""TanhUnit: the shared piecewise-linear tanh table (emulation.tanh_table) in hardware.

The same integers as `TanhTable.eval_raw`, in two pipeline stages:

    cycle 0  |z| and the sign are registered
    cycle 1  a = min(round_half_up(|z|, z_frac -> arg_frac), x_max 2^arg_frac - 1);
             segment j = a >> tb addresses the table ROM; t = a & (2^tb - 1) is registered
    cycle 2  y = base[j] + ((rise[j] * t + 2^(tb-1)) >> tb) (registered)
    cycle 3  out = -y if z < 0 else y (registered)

so the output follows the input by `LATENCY` = 4 cycles. The ROM word is
Cat(base, rise), both unsigned `out_frac`-bit codes.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Elaboratable, Module, Mux, Signal, signed, unsigned
from amaranth.lib.memory import Memory

from kgen.qformat import Rounding
from kgen.emulation.tanh_table import TanhTable

from .fixed import shift_round

LATENCY = 4


def table_rom(table: TanhTable) -> Memory:
    """The ROM of a table: one word Cat(base, rise) per segment."""
    of = table.spec.out_frac
    init = [int(b) | (int(r) << of) for b, r in zip(table.base, table.rise)]
    return Memory(shape=unsigned(2 * of), depth=table.spec.segments, init=init)


class TanhUnit(Elaboratable):
    """z (signed, `z_frac` fraction bits) -> tanh(z) raw with the table's out_frac bits, LATENCY cycles later.

    `rom` may be shared by several units (each takes its own read port).
    """

    def __init__(self, table: TanhTable, z_width: int, z_frac: int, rom: Memory | None = None):
        self.table = table
        self.z_frac = int(z_frac)
        self.z = Signal(signed(z_width))
        self.out = Signal(signed(table.spec.out_frac + 2))
        self.own_rom = rom is None
        self.rom = table_rom(table) if rom is None else rom
        self._port = self.rom.read_port()

    def elaborate(self, platform):
        m = Module()
        if self.own_rom:
            m.submodules.rom = self.rom
        s = self.table.spec
        of, tb = s.out_frac, s.seg_shift
        clamp = (s.x_max << s.arg_frac) - 1
        # four stages, one carry chain (or the ROM, or the multiply) each: iCE40 place and route showed
        # |z|, the rounding and the clamp in series with the ROM address at 50 ns
        mag = Signal(unsigned(len(self.z) + 1))
        neg1 = Signal()
        m.d.sync += [mag.eq(Mux(self.z < 0, -self.z, self.z)), neg1.eq(self.z < 0)]  # cycle 0
        rounded = shift_round(mag.as_signed(), self.z_frac - s.arg_frac, Rounding.HALF_UP)
        a = Signal(unsigned(clamp.bit_length()))
        m.d.comb += a.eq(Mux(rounded > clamp, clamp, rounded))
        t = Signal(unsigned(tb))
        neg2, neg3 = Signal(), Signal()
        m.d.comb += [self._port.addr.eq(a >> tb), self._port.en.eq(1)]
        m.d.sync += [t.eq(a[:tb]), neg2.eq(neg1)]  # cycle 1: the ROM reads segment j
        base = self._port.data[:of]
        rise = self._port.data[of:]
        y = Signal(unsigned(of + 1))
        m.d.sync += [y.eq(base + ((rise * t + (1 << (tb - 1))) >> tb)), neg3.eq(neg2)]  # cycle 2
        ys = Cat(y, 0).as_signed()  # non-negative, one sign bit wider
        m.d.sync += self.out.eq(Mux(neg3, -ys, ys))  # cycle 3
        return m

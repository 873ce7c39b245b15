"""A UART, 8 data bits, no parity, one stop bit (8N1), at `divisor` clocks per bit.

Written here because amaranth-stdio, amaranth's own serial core, is not
released on PyPI (its PyPI name is an empty placeholder). The receiver
synchronises `rx` through two flip-flops, starts on a falling edge, re-checks
the start bit at its middle and samples every data bit at its middle; a byte
whose stop bit is low (a framing error) is dropped, so a line glitch never
becomes a byte. The transmitter takes a byte stream.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from kgen.errors import InputError, expected_found

#: The receiver samples at half a bit, so a bit must last a few clocks.
MIN_DIVISOR = 4


def check_divisor(divisor: int) -> int:
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise InputError(expected_found("UART divisor (clocks per bit)", f"an integer >= {MIN_DIVISOR}",
                                        repr(divisor)))
    return divisor


def divisor_for(clock_hz: float, baud: int) -> int:
    """Clocks per bit for a baud rate (nearest integer; the error must stay under 2 %, as UARTs need)."""
    d = round(clock_hz / baud)
    if d < MIN_DIVISOR or abs(clock_hz / d - baud) / baud > 0.02:
        raise InputError(expected_found("--baud", f"a rate the {clock_hz / 1e6:g} MHz clock divides within 2 %",
                                        str(baud)))
    return d


class UartRx(wiring.Component):
    """rx line in, one `data` beat per received byte (valid for one cycle; there is no back-pressure)."""

    def __init__(self, divisor: int):
        self.divisor = check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "data": Out(stream.Signature(8, always_ready=True))})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        count = Signal(range(d + 1))
        bit = Signal(range(9))
        shift = Signal(8)
        m.d.sync += self.data.valid.eq(0)
        with m.FSM(name="uart_rx"):
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += count.eq(d // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    with m.If(rx):  # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [count.eq(d - 1), bit.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)), count.eq(d - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    with m.If(rx):
                        m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(1)]
                    m.next = "IDLE"  # a low stop bit is a framing error: the byte is dropped
        return m


class UartTx(wiring.Component):
    """A byte stream in, the tx line out (idle high)."""

    def __init__(self, divisor: int):
        self.divisor = check_divisor(divisor)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        count = Signal(range(d))
        bits = Signal(range(11))
        shift = Signal(10, init=0x3FF)
        m.d.comb += self.tx.eq(shift[0])
        with m.If(bits == 0):
            m.d.comb += self.data.ready.eq(1)
            with m.If(self.data.valid):
                m.d.sync += [shift.eq(Cat(0, self.data.payload, 1)), bits.eq(10), count.eq(d - 1)]
        with m.Else():
            m.d.sync += count.eq(count - 1)
            with m.If(count == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], 1)), bits.eq(bits - 1), count.eq(d - 1)]
        return m

"""HostTop: the Euler core behind the UART host protocol (protocol.py); the design a board carries.

Ports: `rx` in, `tx` out, plus the clock domain. Everything else is inside,
so the design places on a 48-pin part and its place-and-route figures are
those of what goes on the board (core, UART, framing and buffers).

Inside: a receiver that hunts for the sync byte, reads command and length,
stores a LOAD's payload in the input buffer (bytes) while it updates the
CRC, and acts only after the CRC byte: a bad CRC, an unknown command or a
wrong length is answered with its status and nothing else happens, except
that a LOAD that started marks the inputs as not loaded (so its bytes are
never computed on). RUN streams the loaded words into the core, collects
its outputs in the output buffer (words) and replies when the inference has
finished; READ sends the outputs, STATUS the counters and the design digest.
A request that stalls for TIMEOUT_BYTES byte times is dropped.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .core import CYCLE_BITS, EulerCore
from .fixed import hw_width
from .plan import Plan
from .protocol import (DIGEST_BYTES, REPLY_SYNC, REQUEST_SYNC, TIMEOUT_BYTES, Command, Reply, Status, crc8,
                       design_digest, word_bytes)
from .uart import UartRx, UartTx, check_divisor


def crc8_step(crc, byte):
    """The next CRC-8 after `byte`, combinational and flat.

    The CRC register after one byte is linear over GF(2) in d = crc ^ byte, so each
    output bit is the XOR of the bits of d that protocol.crc8 maps onto it (found by
    running it on the eight unit vectors): eight small XOR trees, not an unrolled loop.
    """
    d = crc ^ byte
    columns = [crc8(bytes([1 << i])) for i in range(8)]  # crc8 of d = 2^i, with the register at 0
    bits = []
    for out in range(8):
        taps = [d[i] for i in range(8) if columns[i] >> out & 1]
        acc = taps[0]
        for t in taps[1:]:
            acc = acc ^ t
        bits.append(acc)
    return Cat(*bits)


def _popcount(bits):
    total = Const(0, 8)
    for i in range(len(bits)):
        total = total + bits[i]
    return total


class HostTop(wiring.Component):
    def __init__(self, plan: Plan, divisor: int):
        if not plan.config.debug:
            raise ValueError("HostTop counts saturations from the core's debug port: build its plan with debug")
        self.plan = plan
        self.divisor = check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        p = self.plan.program
        xw = hw_width(p.integrator)
        wb = word_bytes(xw)
        n_in, n_out = len(p.inputs), len(p.outputs)
        in_len, out_len = n_in * wb, n_out * wb

        m.submodules.core = core = EulerCore(self.plan)
        m.submodules.rx = urx = UartRx(self.divisor)
        m.submodules.tx = utx = UartTx(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        m.submodules.in_buf = in_buf = Memory(shape=8, depth=in_len, init=[])
        m.submodules.out_buf = out_buf = Memory(shape=xw, depth=n_out, init=[])
        in_w, in_r = in_buf.write_port(), in_buf.read_port()
        out_w, out_r = out_buf.write_port(), out_buf.read_port()

        # -- counters the STATUS reply reads --------------------------------------------------------
        saturations = Signal(32)
        inferences = Signal(32)
        with m.If(core.debug.valid):
            m.d.sync += saturations.eq(saturations + _popcount(core.debug.payload.saturated))
        digest = bytes.fromhex(design_digest(p.manifest()))
        fields = {"cycles": core.cycles, "saturations": saturations, "inferences": inferences,
                  "digest": Const(int.from_bytes(digest, "little"), 8 * DIGEST_BYTES),
                  "n_inputs": Const(n_in, 16), "n_outputs": Const(n_out, 16), "word_bits": Const(xw, 8)}
        assert len(core.cycles) == CYCLE_BITS == 48
        status_bits = Cat(*(fields[name][:8 * n] for n, name in Status.FORMAT))
        status_bytes = Array(status_bits[8 * i:8 * i + 8] for i in range(Status.size()))

        # -- request receiver state ------------------------------------------------------------------
        cmd = Signal(8)
        length = Signal(16)
        count = Signal(16)
        crc = Signal(8)
        loaded = Signal()
        ran = Signal()
        reply = Signal(8)  # the reply's status
        reply_len = Signal(16)
        source = Signal(2)  # payload source: 0 none, 1 outputs, 2 status
        idle = Signal(range(TIMEOUT_BYTES * 10 * self.divisor + 1))
        byte, got = urx.data.payload, urx.data.valid
        length_ok = Signal()
        m.d.comb += length_ok.eq(Mux(cmd == Command.LOAD, length == in_len, length == 0))

        # -- run sequence state -----------------------------------------------------------------------
        k = Signal(16)  # word index
        j = Signal(range(wb + 2))  # byte index within a word
        word = Signal(8 * wb)
        # -- reply sender state -----------------------------------------------------------------------
        tx_crc = Signal(8)
        sent = Signal(16)
        tx_byte = Signal(8)

        m.d.comb += [in_r.addr.eq(k * wb + j), out_r.addr.eq(k)]

        def start_reply(code, n=0, src=0):
            return [reply.eq(code), reply_len.eq(n), source.eq(src), sent.eq(0), tx_crc.eq(0), k.eq(0), j.eq(0)]

        with m.FSM(name="host"):
            with m.State("HUNT"):
                with m.If(got & (byte == REQUEST_SYNC)):
                    m.d.sync += [crc.eq(0), idle.eq(0)]
                    m.next = "CMD"
            for state, nxt in (("CMD", "LEN0"), ("LEN0", "LEN1"), ("LEN1", "PAYLOAD"), ("PAYLOAD", "PAYLOAD")):
                with m.State(state):
                    m.d.sync += idle.eq(idle + 1)
                    with m.If(idle == TIMEOUT_BYTES * 10 * self.divisor):
                        m.next = "HUNT"
                    with m.If(got):
                        m.d.sync += [crc.eq(crc8_step(crc, byte)), idle.eq(0)]
                        if state == "CMD":
                            m.d.sync += [cmd.eq(byte), count.eq(0)]
                            with m.If(byte == Command.LOAD):
                                m.d.sync += [loaded.eq(0), ran.eq(0)]
                            m.next = nxt
                        elif state == "LEN0":
                            m.d.sync += length[:8].eq(byte)
                            m.next = nxt
                        elif state == "LEN1":
                            m.d.sync += length[8:].eq(byte)
                            with m.If(Cat(length[:8], byte) == 0):
                                m.next = "CHECK"
                            with m.Else():
                                m.next = "PAYLOAD"
                        else:
                            m.d.comb += [in_w.addr.eq(count), in_w.data.eq(byte),
                                         in_w.en.eq((cmd == Command.LOAD) & length_ok & (count < in_len))]
                            m.d.sync += count.eq(count + 1)
                            with m.If(count + 1 == length):
                                m.next = "CHECK"
            with m.State("CHECK"):  # the CRC byte
                m.d.sync += idle.eq(idle + 1)
                with m.If(idle == TIMEOUT_BYTES * 10 * self.divisor):
                    m.next = "HUNT"
                with m.If(got):
                    m.next = "SEND"
                    with m.If(byte != crc):
                        m.d.sync += start_reply(Reply.BAD_CRC)
                    with m.Elif((cmd == 0) | (cmd > Command.STATUS)):
                        m.d.sync += start_reply(Reply.BAD_COMMAND)
                    with m.Elif(~length_ok):
                        m.d.sync += start_reply(Reply.BAD_LENGTH)
                    with m.Elif(cmd == Command.LOAD):
                        m.d.sync += [loaded.eq(1), *start_reply(Reply.OK)]
                    with m.Elif(cmd == Command.RUN):
                        with m.If(~loaded):
                            m.d.sync += start_reply(Reply.NOT_LOADED)
                        with m.Else():
                            m.d.sync += [k.eq(0), j.eq(0), ran.eq(0), saturations.eq(0)]
                            m.next = "START"
                    with m.Elif(cmd == Command.READ):
                        with m.If(~ran):
                            m.d.sync += start_reply(Reply.NOT_RUN)
                        with m.Else():
                            m.d.sync += start_reply(Reply.OK, out_len, 1)
                    with m.Else():
                        m.d.sync += start_reply(Reply.OK, Status.size(), 2)

            # -- RUN: inputs into the core, outputs into the buffer -----------------------------------
            with m.State("START"):
                m.d.comb += core.start.eq(1)
                m.next = "FETCH"
            with m.State("FETCH"):  # bytes k*wb + j, one per cycle, the read port one cycle behind
                m.d.sync += j.eq(j + 1)
                with m.If(j > 0):
                    m.d.sync += word.eq(Cat(word[8:], in_r.data))
                with m.If(j == wb):
                    m.d.sync += j.eq(0)
                    m.next = "PUSH"
            with m.State("PUSH"):
                m.d.comb += [core.inp.valid.eq(1), core.inp.payload.eq(word[:xw])]
                with m.If(core.inp.ready):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == n_in - 1):
                        m.d.sync += k.eq(0)
                        m.next = "COLLECT"
                    with m.Else():
                        m.next = "FETCH"
            with m.State("COLLECT"):
                m.d.comb += [core.out.ready.eq(1), out_w.addr.eq(k), out_w.data.eq(core.out.payload),
                             out_w.en.eq(core.out.valid)]
                with m.If(core.out.valid):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == n_out - 1):
                        m.d.sync += [k.eq(0), ran.eq(1), inferences.eq(inferences + 1),
                                     *start_reply(Reply.OK)]
                        m.next = "SEND"

            # -- the reply: sync, status, length, payload, CRC ----------------------------------------
            with m.State("SETTLE"):  # the output buffer's address (k) changed last cycle; its data follows now
                m.next = "SEND"
            with m.State("SEND"):  # choose the byte
                with m.If(sent == 0):
                    m.d.sync += tx_byte.eq(REPLY_SYNC)
                with m.Elif(sent == 1):
                    m.d.sync += tx_byte.eq(reply)
                with m.Elif(sent == 2):
                    m.d.sync += tx_byte.eq(reply_len[:8])
                with m.Elif(sent == 3):
                    m.d.sync += tx_byte.eq(reply_len[8:])
                with m.Elif(sent == 4 + reply_len):
                    m.d.sync += tx_byte.eq(tx_crc)
                with m.Elif(source == 1):
                    m.d.sync += tx_byte.eq(Array(out_r.data[8 * i:8 * i + 8] for i in range(wb))[j])
                with m.Else():
                    m.d.sync += tx_byte.eq(status_bytes[sent - 4])
                m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(tx_byte)]
                with m.If(utx.data.ready):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent > 0):
                        m.d.sync += tx_crc.eq(crc8_step(tx_crc, tx_byte))
                    with m.If((sent >= 4) & (sent < 4 + reply_len) & (source == 1)):
                        m.d.sync += j.eq(j + 1)
                        with m.If(j == wb - 1):
                            m.d.sync += [j.eq(0), k.eq(k + 1)]
                    with m.If(sent == 4 + reply_len):
                        m.d.sync += [k.eq(0), j.eq(0)]
                        m.next = "HUNT"
                    with m.Else():
                        m.next = "SETTLE"
        return m


BOARD_TOP = "kgen_board"


def host_verilog(plan: Plan, divisor: int, name: str = BOARD_TOP) -> str:
    """Verilog of HostTop (module `name`, ports clk, rst, rx, tx) with kgen's header: version, circuit digest,
    lanes, UART divisor."""
    import warnings

    from amaranth.back import verilog

    from kgen import __version__

    from .export import time_zero_fix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = verilog.convert(HostTop(plan, divisor), name=name, emit_src=False, strip_internal_attrs=True)
    header = (f"// {name}: the KirchhoffNet Euler twin behind kgen's UART host protocol, generated by kgen "
              f"{__version__}\n// circuit {plan.program.name}, digest {plan.program.digest}\n"
              f"// lanes {plan.lanes}, update units {plan.units}; UART {divisor} clocks per bit, 8N1\n")
    return header + time_zero_fix(text)

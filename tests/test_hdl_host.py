"""The board top (HostTop: UART, framing, buffers, the core) in amaranth.sim, driven byte by byte as a host would.

The host side is protocol.py's own encoder and decoder over a bit-level UART
model, so a pass means the hardware and the host agree on every byte: outputs
bit-exact to the bit-exact model, the STATUS fields, and every error reply
(a corrupted byte, an unknown command, a wrong length, RUN or READ out of
order) with nothing computed on a corrupted LOAD.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from amaranth.sim import Simulator  # noqa: E402

from kgen.emulation.lower import lower  # noqa: E402
from kgen.hdl import protocol as P  # noqa: E402
from kgen.hdl.cases import mixed_circuit  # noqa: E402
from kgen.hdl.fixed import hw_width  # noqa: E402
from kgen.hdl.host_top import HostTop  # noqa: E402
from kgen.hdl.plan import HdlConfig, make_plan  # noqa: E402
from kgen.hdl.verify import expected  # noqa: E402
from kgen.quant import QuantConfig  # noqa: E402

DIVISOR = 4


def exchange(plan, requests: list[bytes]) -> list[tuple[P.Reply, bytes]]:
    """Send each request over the simulated UART and decode the reply to it (in order)."""
    dut = HostTop(plan, DIVISOR)
    replies: list[bytes] = []

    async def send_byte(ctx, b):
        for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(DIVISOR)

    async def read_byte(ctx):
        while ctx.get(dut.tx):
            await ctx.tick()
        await ctx.tick().repeat(DIVISOR + DIVISOR // 2)  # the middle of data bit 0
        value = 0
        for i in range(8):
            value |= ctx.get(dut.tx) << i
            await ctx.tick().repeat(DIVISOR)
        assert ctx.get(dut.tx) == 1, "stop bit"
        return value

    async def host(ctx):
        for req in requests:
            for b in req:
                await send_byte(ctx, b)
            head = bytes([await read_byte(ctx) for _ in range(P.HEADER_BYTES)])
            n = head[2] | head[3] << 8
            rest = bytes([await read_byte(ctx) for _ in range(n + 1)])
            replies.append(head + rest)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.run()
    out = []
    for r in replies:
        status, payload, tail = P.parse_reply(r)
        assert tail == b""
        out.append((status, payload))
    return out


@pytest.fixture(scope="module")
def twin():
    program = lower(mixed_circuit(), QuantConfig(steps=(2, 1, 2)))
    plan = make_plan(program, HdlConfig(lanes=4, units=2))
    return program, plan


def test_load_run_read_status_bit_exact(twin):
    program, plan = twin
    xw = hw_width(program.integrator)
    x = np.random.default_rng(3).standard_normal((2, len(program.inputs)))
    x0, want, _ = expected(program, x, trace=True)
    reqs = []
    for b in range(2):
        reqs += [P.request(P.Command.LOAD, P.pack_words(x0[b], xw)), P.request(P.Command.RUN),
                 P.request(P.Command.READ)]
    reqs.append(P.request(P.Command.STATUS))
    replies = exchange(plan, reqs)
    assert [r[0] for r in replies] == [P.Reply.OK] * 7
    assert P.unpack_words(replies[2][1], xw) == [int(v) for v in want[0]]
    assert P.unpack_words(replies[5][1], xw) == [int(v) for v in want[1]]
    st = P.Status.unpack(replies[6][1])
    assert st == P.Status(cycles=plan.run_cycles(), saturations=0, inferences=2,
                          digest=P.design_digest(program.manifest()),
                          n_inputs=len(program.inputs), n_outputs=len(program.outputs), word_bits=xw)


def test_corrupted_and_malformed_requests_are_answered_never_computed_on(twin):
    program, plan = twin
    xw = hw_width(program.integrator)
    load = bytearray(P.request(P.Command.LOAD, P.pack_words([1 << 20] * len(program.inputs), xw)))
    load[6] ^= 0x10  # one payload bit flipped in transit
    replies = exchange(plan, [
        P.request(P.Command.READ),  # nothing has run yet
        bytes(load),
        P.request(P.Command.RUN),  # the corrupted LOAD left no inputs
        P.request(P.Command.LOAD, b"\x00" * 3),  # wrong length
        P.frame(P.REQUEST_SYNC, 0x42),  # unknown command
        P.request(P.Command.STATUS),
    ])
    assert [r[0] for r in replies] == [P.Reply.NOT_RUN, P.Reply.BAD_CRC, P.Reply.NOT_LOADED, P.Reply.BAD_LENGTH,
                                       P.Reply.BAD_COMMAND, P.Reply.OK]
    assert P.Status.unpack(replies[-1][1]).inferences == 0


def test_crc8_is_smbus():
    assert P.crc8(b"123456789") == 0xF4  # the CRC-8/SMBUS check value
    good = P.request(P.Command.LOAD, bytes(range(8)))
    for i in range(1, len(good)):  # every single corrupted byte after the sync byte is caught
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(good)
            bad[i] ^= flip
            assert P.crc8(bad[1:-1]) != bad[-1]


def test_words_round_trip():
    vals = [-(1 << 31), -1, 0, 1, (1 << 31) - 1]
    assert P.unpack_words(P.pack_words(vals, 32), 32) == vals
    assert P.unpack_words(P.pack_words([-5, 7], 20), 20) == [-5, 7]
    with pytest.raises(ValueError, match="32-bit signed word"):
        P.pack_words([1 << 31], 32)

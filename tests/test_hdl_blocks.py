"""Component tests of the Euler core's blocks in amaranth.sim, each against the NumPy op it implements.

A failure names one block: the fixed-point helpers against emulation.qformat,
the tanh unit against TanhTable.eval_raw, each kind datapath against the
bit-exact model's own currents, the accumulator side against an exact sum,
the update unit against the model's update and read-copy steps.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")

from amaranth.hdl import Module, Signal, signed  # noqa: E402
from amaranth.sim import Simulator  # noqa: E402

from kgen.quant import QuantConfig  # noqa: E402
from kgen.emulation.interp import Emulator  # noqa: E402
from kgen.emulation.lower import lower  # noqa: E402
from kgen.qformat import Overflow, QFormat, Rounding, shift_round_array  # noqa: E402
from kgen.emulation.tanh_table import TanhSpec, build_table  # noqa: E402
from kgen.hdl import fixed  # noqa: E402
from kgen.hdl.accumulate import AccumulatorSide  # noqa: E402
from kgen.hdl.cases import ALL_KINDS, mixed_circuit  # noqa: E402
from kgen.hdl.datapath import KindHarness  # noqa: E402
from kgen.hdl.plan import kind_depth, tree_depth  # noqa: E402
from kgen.quant import Storage  # noqa: E402
from kgen.hdl.tanh import LATENCY, TanhUnit  # noqa: E402
from kgen.hdl.update import UpdateUnit  # noqa: E402


def run_comb(build, inputs: list, outputs: list) -> list[np.ndarray]:
    """Drive `inputs` [(signal, values)] one set per step through a comb design; collect `outputs`."""
    m = build()
    got = [[] for _ in outputs]
    n = len(inputs[0][1])

    async def tb(ctx):
        for k in range(n):
            for sig, vals in inputs:
                ctx.set(sig, int(vals[k]))
            for g, o in zip(got, outputs):
                g.append(ctx.get(o))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    return [np.asarray(g, dtype=np.int64) for g in got]


def run_pipe(dut, inputs: list, outputs: list, latency: int) -> list[np.ndarray]:
    """One input set [(signal, values)] per clock; outputs sampled `latency` clocks later."""
    got = [[] for _ in outputs]
    n = len(inputs[0][1])

    async def tb(ctx):
        for t in range(n + latency):
            if t < n:
                for sig, vals in inputs:
                    ctx.set(sig, int(vals[t]))
            if t >= latency:
                for g, o in zip(got, outputs):
                    g.append(ctx.get(o))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return [np.asarray(g, dtype=np.int64) for g in got]


FORMATS = [QFormat(True, 3, 5, r, o) for r in Rounding for o in Overflow] + [
    QFormat(False, 2, 4, Rounding.HALF_EVEN, Overflow.SATURATE), QFormat(True, -2, 9, Rounding.TRUNCATE)]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.spec)
@pytest.mark.parametrize("from_frac", [9, 5, 2])
def test_rescale_matches_qformat(fmt, from_frac):
    x = Signal(signed(14))
    vals = np.arange(-(1 << 13), 1 << 13, 7, dtype=np.int64)
    want, want_flag = fmt.rescale_array(vals, from_frac)
    out = Signal(fixed.hw_shape(fmt))
    flag = Signal()

    def build():
        m = Module()
        r, f = fixed.rescale(x, from_frac, fmt)
        m.d.comb += [out.eq(r), flag.eq(f)]
        return m

    got, got_flag = run_comb(build, [(x, vals)], [out, flag])
    assert np.array_equal(got, want)
    assert np.array_equal(got_flag.astype(bool), want_flag)


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("shift", [1, 3, 12, 15])
def test_shift_round_matches_numpy(rounding, shift):
    x = Signal(signed(13))  # narrower than some shifts: half-even must sign-extend
    vals = np.arange(-(1 << 12), 1 << 12, 3, dtype=np.int64)
    out = Signal(signed(14))

    def build():
        m = Module()
        m.d.comb += out.eq(fixed.shift_round(x, shift, rounding))
        return m

    (got,) = run_comb(build, [(x, vals)], [out])
    assert np.array_equal(got, shift_round_array(vals, shift, rounding))


@pytest.mark.parametrize("z_frac", [28, 20, 11])
def test_tanh_unit_matches_table(z_frac):
    table = build_table(TanhSpec())
    rng = np.random.default_rng(z_frac)
    width = z_frac + 5
    z = np.concatenate([rng.integers(-(1 << (width - 1)), 1 << (width - 1), 3000),
                        rng.integers(-(3 << z_frac), 3 << z_frac, 3000), [0, 1, -1, (8 << z_frac) - 1,
                                                                          -(8 << z_frac)]]).astype(np.int64)
    unit = TanhUnit(table, width, z_frac)
    (got,) = run_pipe(unit, [(unit.z, z)], [unit.out], LATENCY)
    assert np.array_equal(got, table.eval_raw(z, z_frac))


@pytest.fixture(scope="module")
def mixed_program():
    return lower(mixed_circuit(kinds=ALL_KINDS), QuantConfig(steps=(4, 4, 4)))


@pytest.mark.parametrize("feedback", [True, False])
def test_kind_datapaths_match_the_model(feedback):
    program = lower(mixed_circuit(kinds=ALL_KINDS), QuantConfig(steps=(4, 4, 4), read_feedback=feedback))
    em = Emulator(program)
    depth = kind_depth(program)
    rng = np.random.default_rng(1)
    batch = 24
    R = np.zeros((program.n_nodes + 1, batch), np.int64)
    R[1:, : batch // 2] = rng.integers(program.read.min_raw, program.read.max_raw + 1, (program.n_nodes, batch // 2))
    R[1:, batch // 2:] = rng.integers(-(3 << program.read.frac_bits), 3 << program.read.frac_bits,
                                      (program.n_nodes, batch - batch // 2))  # tanh's interior, relu's kinks
    seen = set()
    for wi in range(len(program.windows)):
        for chunk in em.edge_chunks(wi, batch):
            k = program.kinds.index(chunk.kind)
            seen.add(chunk.kind.kind)
            want = em.chunk_currents(chunk, R)
            dut = KindHarness(program, k, depth)
            n = chunk.src.size
            e_idx, b_idx = np.divmod(np.arange(n * batch), batch)
            ins = [(dut.v_src, R[chunk.src[e_idx], b_idx]), (dut.v_des, R[chunk.des[e_idx], b_idx])]
            ins += [(sig, chunk.params[name][e_idx, 0]) for name, sig in dut.params.items()]
            (got,) = run_pipe(dut, ins, [dut.current], depth)
            got = got.reshape(n, batch)
            assert np.array_equal(got, want), f"kind {chunk.kind.kind} window {wi}"
    assert seen == {k.kind for k in program.kinds}


@pytest.mark.parametrize("storage", [Storage.REGISTERS, Storage.RAM])
@pytest.mark.parametrize("units", [1, 4])
def test_accumulator_side_sums_exactly(storage, units):
    """Bursts to one node (forwarding), scattered nodes, ground gaps; then read and clear."""
    width, depth = 20, 5
    side = AccumulatorSide(width, units, depth, storage)
    rng = np.random.default_rng(units)
    nodes = units * depth
    n = 300
    node = np.repeat(rng.integers(0, nodes, n // 3), 3)[:n]  # runs of equal addresses
    node[::7] = rng.integers(0, nodes, node[::7].size)
    valid = rng.random(n) > 0.1
    value = rng.integers(-(1 << 19), 1 << 19, n)
    want = np.zeros(nodes, np.int64)
    np.add.at(want, node[valid], value[valid])
    want = ((want + (1 << 19)) % (1 << 20)) - (1 << 19)  # wrap-around at the accumulator width
    got = np.zeros(nodes, np.int64)
    cleared = []

    async def tb(ctx):
        for t in range(n):
            ctx.set(side.in_valid, int(valid[t]))
            ctx.set(side.in_bank, int(node[t] % units))
            ctx.set(side.in_addr, int(node[t] // units))
            ctx.set(side.in_value, int(value[t]) & ((1 << width) - 1))
            await ctx.tick()
        ctx.set(side.in_valid, 0)
        await ctx.tick()
        await ctx.tick()
        for rnd in range(2):  # read + clear, then read again: all zero
            ctx.set(side.update, 1)
            ctx.set(side.clear, 1)
            for j in range(depth):
                ctx.set(side.rd_addr, j)
                await ctx.tick()  # the word read at this edge (and cleared at it) is now on rd_data
                for u in range(units):
                    raw = ctx.get(side.rd_data[u])
                    v = raw - (1 << width) if raw >> (width - 1) else raw
                    if rnd == 0:
                        got[j * units + u] = v
                    else:
                        cleared.append(v)
            ctx.set(side.update, 0)

    sim = Simulator(side)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert np.array_equal(got, want)
    assert not any(cleared)


@pytest.mark.parametrize("lanes", [1, 3, 4])
def test_update_unit_matches_the_model(mixed_program, lanes):
    """Tree over 2L partial sums, x coef, round, saturate, read copy (with residue): the model's steps."""
    p = mixed_program
    win = p.windows[1]
    acc_w = fixed.hw_width(p.acc)
    coef_w = max(fixed.hw_width(w.coef_fmt) for w in p.windows)
    unit = UpdateUnit(p, lanes, 4, coef_w)
    rng = np.random.default_rng(lanes)
    n = 400
    parts = rng.integers(p.acc.min_raw // (4 * lanes), p.acc.max_raw // (4 * lanes), (n, 2 * lanes))
    parts[:20] = p.acc.max_raw // (2 * lanes)  # drives the integrator into saturation
    acc = parts[:, :lanes].sum(1) - parts[:, lanes:].sum(1)
    x = rng.integers(p.integrator.min_raw, p.integrator.max_raw + 1, n)
    c = rng.integers(p.residue.min_raw, p.residue.max_raw + 1, n)
    coef = rng.choice(win.coef, n)
    inc = shift_round_array(acc * coef, win.update_shift, p.integrator.rounding)
    want_x, _ = p.integrator.fit_array(x + inc)
    want_r, want_c, _ = p.read_state(want_x, c)
    mask = (1 << acc_w) - 1
    T = tree_depth(lanes)
    got = {"x": [], "r": [], "c": [], "we": []}

    async def tb(ctx):
        ctx.set(unit.window, 1)
        for t in range(n + unit.latency + 1):
            ctx.set(unit.issue, int(t < n))
            ctx.set(unit.addr, t % 16)
            if 1 <= t <= n:  # the reads arrive one cycle after the issue
                k = t - 1
                for lane in range(lanes):
                    ctx.set(unit.des[lane], int(parts[k, lane]) & mask)
                    ctx.set(unit.src[lane], int(parts[k, lanes + lane]) & mask)
                ctx.set(unit.x_in, int(x[k]))
                ctx.set(unit.c_in, int(c[k]))
                ctx.set(unit.coef, int(coef[k]))
            if ctx.get(unit.we):
                got["x"].append(ctx.get(unit.x_out))
                got["r"].append(ctx.get(unit.r_out))
                got["c"].append(ctx.get(unit.c_out))
                got["we"].append(t)
            await ctx.tick()

    sim = Simulator(unit)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert got["we"][0] == 7 + T == unit.latency and len(got["we"]) == n  # 7 + T cycles from issue to write
    assert np.array_equal(np.asarray(got["x"]), want_x)
    assert np.array_equal(np.asarray(got["r"]), want_r)
    assert np.array_equal(np.asarray(got["c"]), want_c)


@pytest.mark.parametrize("lanes,units,storage", [(2, 1, Storage.REGISTERS), (4, 2, Storage.RAM)])
def test_edge_lane_partial_sums_match_the_model(lanes, units, storage):
    """One lane over a window: its des and src sums equal the model's currents of the lane's edges."""
    from amaranth.hdl import Elaboratable

    from kgen.hdl.lane import EdgeLane
    from kgen.hdl.plan import HdlConfig, make_plan
    from kgen.hdl.storage import NodeStore
    from kgen.hdl.tanh import table_rom

    program = lower(mixed_circuit(kinds=ALL_KINDS), QuantConfig(steps=(2, 2, 2)))
    plan = make_plan(program, HdlConfig(lanes=lanes, units=units, storage=storage))
    em = Emulator(program)
    rng = np.random.default_rng(lanes)
    R = np.zeros((program.n_nodes + 1, 1), np.int64)
    R[1:, 0] = rng.integers(-(4 << program.read.frac_bits), 4 << program.read.frac_bits, program.n_nodes)
    wi, lane_index = 1, 1
    win = program.windows[wi]
    cur = np.concatenate([em.chunk_currents(ch, R)[:, 0] for ch in em.edge_chunks(wi, 1)])  # canonical edge order
    mine = np.arange(win.n_edges) % lanes == lane_index
    want = np.zeros(program.n_nodes + 1, np.int64)
    np.add.at(want, win.des[mine], cur[mine])
    np.add.at(want, win.src[mine], -cur[mine])
    gp = 1 << plan.node_bits
    banks = []
    for u in range(units):  # buffer 0 of each R bank holds the read copy
        words = [int(R[j * units + u + 1, 0]) if j * units + u < program.n_nodes else 0 for j in range(gp)]
        banks.append(NodeStore(fixed.hw_shape(program.read), 2 * gp, storage, f"r{u}", init=words + [0] * gp))
    ports = [(b.read_port(), b.read_port()) for b in banks]
    buf = Signal()
    rom = table_rom(program.tanh)
    lane = EdgeLane(plan, lane_index, ports, buf, rom)

    class Top(Elaboratable):
        def elaborate(self, platform):
            m = Module()
            m.submodules.lane = lane
            m.submodules.rom = rom
            for k, b in enumerate(banks):
                m.submodules[f"r{k}"] = b
            return m

    acc_w = fixed.hw_width(program.acc)
    got = np.zeros(program.n_nodes + 1, np.int64)

    async def tb(ctx):
        for s in range(plan.slots[wi] + plan.edge_phase_overhead):
            ctx.set(lane.issue, int(s < plan.slots[wi]))
            ctx.set(lane.addr, plan.slot_base[wi] + s)
            await ctx.tick()
        ctx.set(lane.issue, 0)
        ctx.set(lane.update, 1)
        for j in range(plan.groups):
            ctx.set(lane.des.rd_addr, j)
            ctx.set(lane.src.rd_addr, j)
            await ctx.tick()
            for u in range(units):
                node = j * units + u + 1
                if node <= program.n_nodes:
                    d, s_ = ctx.get(lane.des.rd_data[u]), ctx.get(lane.src.rd_data[u])
                    v = (d - s_) % (1 << acc_w)
                    got[node] = v - (1 << acc_w) if v >> (acc_w - 1) else v

    sim = Simulator(Top())
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert np.array_equal(got[1:], want[1:]) and np.any(want[1:])

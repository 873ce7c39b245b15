"""The whole EulerCore in amaranth.sim: streams with random stalls, every step's state, the cycle formula.

The simulators' benches (test_hdl_cocotb.py) repeat this on the exported
Verilog; here a failure is found without any external tool.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("amaranth")

from amaranth.sim import Simulator  # noqa: E402

from kgen.quant import QuantConfig  # noqa: E402
from kgen.emulation.lower import lower  # noqa: E402
from kgen.hdl.cases import ALL_KINDS, mixed_circuit  # noqa: E402
from kgen.hdl.core import EulerCore  # noqa: E402
from kgen.hdl.plan import HdlConfig, make_plan  # noqa: E402
from kgen.quant import Storage  # noqa: E402
from kgen.hdl.verify import expected  # noqa: E402


def simulate_core(plan, x0, stall=0.3, seed=0):
    """Run inferences through the core; returns (outputs, cycles port, debug beats [(t, step, group, xs)])."""
    dut = EulerCore(plan)
    rng = random.Random(seed)
    U = plan.units
    results = []

    async def tb(ctx):
        t = 0
        for b in range(x0.shape[0]):
            ctx.set(dut.start, 1)
            await ctx.tick()
            t += 1
            ctx.set(dut.start, 0)
            k, outs, beats = 0, [], []
            while True:
                give = k < x0.shape[1] and rng.random() >= stall
                ctx.set(dut.inp.valid, int(give))
                if give:
                    ctx.set(dut.inp.payload, int(x0[b, k]))
                take = rng.random() >= stall
                ctx.set(dut.out.ready, int(take))
                if give and ctx.get(dut.inp.ready):
                    k += 1
                if ctx.get(dut.debug.valid):
                    pl = ctx.get(dut.debug.payload)
                    beats.append((t, pl.step, pl.group, [pl.x[u] for u in range(U)]))
                if take and ctx.get(dut.out.valid):
                    outs.append(ctx.get(dut.out.payload))
                done = ctx.get(dut.done)
                await ctx.tick()
                t += 1
                if done:
                    break
            results.append((outs, ctx.get(dut.cycles), beats))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return results


@pytest.mark.parametrize("lanes,units,storage", [(1, 1, Storage.REGISTERS), (4, 2, Storage.RAM),
                                                 (16, 4, Storage.REGISTERS), (2, 1, Storage.RAM)])
@pytest.mark.parametrize("feedback", [True, False])
def test_core_matches_model_every_step(lanes, units, storage, feedback):
    program = lower(mixed_circuit(kinds=ALL_KINDS), QuantConfig(steps=(3, 2, 3), read_feedback=feedback))
    plan = make_plan(program, HdlConfig(lanes=lanes, units=units, storage=storage))
    x = np.random.default_rng(lanes + units).standard_normal((2, len(program.inputs)))
    x0, want, states = expected(program, x, trace=True)
    res = simulate_core(plan, x0, seed=lanes)
    per_step = [plan.step_cycles(wi) for wi, w in enumerate(program.windows) for _ in range(w.steps)]
    for b, (outs, cycles, beats) in enumerate(res):
        assert outs == [int(v) for v in want[b]]
        assert cycles == plan.run_cycles() == sum(per_step)
        got = np.full(states.shape[:2], -1 << 62, np.int64)
        for _, step, group, xs in beats:
            for u, v in enumerate(xs):
                if group * units + u < program.n_nodes:
                    got[step, group * units + u] = v
        assert np.array_equal(got[1:], states[1:, :, b])
        firsts = sorted({step: t for t, step, group, _ in reversed(beats) if group == 0}.items())
        assert list(np.diff([t for _, t in firsts])) == per_step[1:]  # ceil(E_w/L) + ceil(N/U) + C, each step


def test_cycle_formula_terms():
    program = lower(mixed_circuit(kinds=ALL_KINDS), QuantConfig(steps=(3, 2, 3)))
    for lanes in (1, 4, 16):
        plan = make_plan(program, HdlConfig(lanes=lanes, units=2))
        for wi, w in enumerate(program.windows):
            assert plan.step_cycles(wi) == -(-w.n_edges // lanes) + -(-program.n_nodes // 2) + plan.overhead
        assert plan.overhead == 10 + plan.kind_depth + plan.tree_depth  # edge 3 + D, update 7 + T

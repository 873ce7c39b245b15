"""The core's Verilog under the cocotb bench, on Icarus and Verilator, against the bit-exact model.

Zero mismatches in every output and every step's state (the debug port) on
the twomoon checkpoint, a random 3-window mixed-kind circuit and a 2,592-edge
neighbor circuit, for L in {1, 4, 16}; the measured cycles equal the
formula ceil(E_w / L) + ceil(N / U) + C at every step. Short horizons (20
Euler steps); whole trajectories are test_hdl_cli.py's `kgen run --view rtl`.
Builds are cached per Verilog text (KGEN_RTL_CACHE), so reruns are quick.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("amaranth")
pytest.importorskip("cocotb_tools")

from kgen.quant import QuantConfig  # noqa: E402
from kgen.emulation.lower import lower  # noqa: E402
from kgen.hdl.cases import mixed_circuit, neighbor_circuit  # noqa: E402
from kgen.hdl.plan import HdlConfig, make_plan  # noqa: E402
from kgen.hdl.runner import BenchMismatch, BenchOptions, run_bench  # noqa: E402
from kgen.hdl.tools import Sim  # noqa: E402
from kgen.hdl.verify import expected, verify_rtl  # noqa: E402
from kgen.tools import missing_reason  # noqa: E402


def need(sim: Sim):
    reason = missing_reason(sim.tool)
    if reason:
        pytest.skip(reason)


def program_of(name: str, reference=None):
    if name == "twomoon":
        from kgen.modelfile import load_model

        return lower(load_model(reference / "twomoon").circuit, QuantConfig(steps=(10, 10)))
    if name == "mixed":
        return lower(mixed_circuit(), QuantConfig(steps=(7, 7, 6)))
    return lower(neighbor_circuit(), QuantConfig(steps=(10, 10)))


CASES = [("twomoon", 2), ("mixed", 3), ("neighbor", 1)]


def _check(name, lanes, sim, request):
    need(sim)
    reference = request.getfixturevalue("reference") if name == "twomoon" else None
    program = program_of(name, reference)
    n_inputs = 1 if lanes == 16 else dict(CASES)[name]  # the 16-lane core is the slowest to simulate
    x = np.random.default_rng(lanes).standard_normal((n_inputs, len(program.inputs)))
    report = verify_rtl(program, HdlConfig(lanes=lanes), x, sim, trace=True, seed=lanes)
    assert report.mismatches == 0
    assert report.states_checked == n_inputs * program.total_steps * program.n_nodes
    assert report.cycles_per_inference == report.formula_cycles
    plan = make_plan(program, HdlConfig(lanes=lanes))
    assert report.cycles_per_step == tuple(-(-w.n_edges // lanes) + program.n_nodes + plan.overhead
                                           for w in program.windows)


@pytest.mark.parametrize("lanes", [1, 4, 16])
@pytest.mark.parametrize("name", ["twomoon", "mixed"])
def test_icarus(name, lanes, request):
    _check(name, lanes, Sim.ICARUS, request)


@pytest.mark.slow
@pytest.mark.parametrize("lanes", [1, 4, 16])
def test_icarus_neighbor(lanes, request):
    _check("neighbor", lanes, Sim.ICARUS, request)


@pytest.mark.slow
@pytest.mark.parametrize("lanes", [1, 4, 16])
@pytest.mark.parametrize("name", ["twomoon", "mixed", "neighbor"])
def test_verilator(name, lanes, request):
    _check(name, lanes, Sim.VERILATOR, request)


def test_neighbor_circuit_size():
    program = program_of("neighbor")
    assert min(w.n_edges for w in program.windows) >= 2000


def _corrupted_run(trace: bool):
    program = program_of("mixed")
    plan = make_plan(program, HdlConfig(lanes=4))
    x = np.random.default_rng(4).standard_normal((2 if not trace else 1, len(program.inputs)))
    x0, want, states = expected(program, x, trace)
    return plan, x0, want, states


def test_bench_fails_on_a_corrupted_output():
    need(Sim.ICARUS)
    plan, x0, want, _ = _corrupted_run(False)
    run_bench(plan, x0, want, BenchOptions(seed=1))  # the honest run passes
    bad = want.copy()
    bad[1, 0] += 1  # one LSB of one output
    with pytest.raises(BenchMismatch, match=r"input 1 output 0: got -?\d+, expected -?\d+"):
        run_bench(plan, x0, bad, BenchOptions(seed=1))


def test_bench_fails_on_a_corrupted_state():
    need(Sim.ICARUS)
    plan, x0, want, states = _corrupted_run(True)
    bad = states.copy()
    bad[5, 2, 0] ^= 1 << 3
    with pytest.raises(BenchMismatch, match=r"input 0 step 5 node 3"):
        run_bench(plan, x0, want, BenchOptions(seed=2, trace=True), states=bad)

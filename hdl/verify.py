"""RTL checks shared by the benches: the words they load, what they must return, the cycle formula.

The raw inputs the benches stream come from `Emulator(program).load(x)` (the
fill rule, rounding and saturation of the bit-exact model: one place builds
an initial state). `verify_rtl` is the cocotb check as a library call: the
program's own NumPy interpreter (emulation.interp) gives the expected outputs
(and with a trace every step's state), the cocotb bench drives the RTL with
random valid/ready stalls and compares with zero tolerance, and the measured
cycles must equal the plan's formula: the `cycles` port per inference, and
(with a trace) every step's ceil(E_w / L) + ceil(N / U) + C. A mismatch is a
BenchMismatch (one line, exit 2), whether the RTL or the expectation is wrong.
`kgen verify MODEL --view rtl --bench cocotb` runs this through the rtl view.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from kgen.emulation.program import Program
from kgen.errors import expected_found

from .plan import LOAD_STAGES, HdlConfig, Plan, make_plan
from .runner import BenchMismatch, BenchOptions, BenchResult, run_bench
from .tools import Sim


@dataclass(frozen=True)
class RtlReport:
    circuit: str
    sim: str
    lanes: int
    units: int
    storage: str
    inputs: int
    steps: int
    outputs_checked: int
    states_checked: int
    mismatches: int
    cycles_per_inference: int
    formula_cycles: int
    cycles_per_step: tuple[int, ...]  # the formula per execution window
    overhead: int
    sim_cycles_per_second: float
    build_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def input_words(program: Program, X0: np.ndarray) -> np.ndarray:
    """A loaded integrator state (N, B) -> the raw words the `inp` stream carries (B, n_in)."""
    return np.asarray(X0, np.int64)[np.asarray(program.inputs) - 1].T.copy()


def raw_inputs(program: Program, x: np.ndarray) -> np.ndarray:
    """Data (B, n_data) -> the raw input words (B, n_in), loaded as the bit-exact model loads them."""
    from kgen.emulation.interp import Emulator

    X0, _ = Emulator(program).load(x)
    return input_words(program, X0)


def expected_from(program: Program, X0: np.ndarray, trace: bool):
    """(raw inputs (B, n_in), expected raw outputs (B, n_out), states (S, N, B) or None) from a loaded state."""
    from kgen.emulation.interp import Emulator

    res = Emulator(program).run_raw(X0, record=trace)
    want = res.final[np.asarray(program.outputs) - 1].T.copy()
    return input_words(program, X0), want, res.states


def expected(program: Program, x: np.ndarray, trace: bool):
    """(raw inputs (B, n_in), expected raw outputs (B, n_out), states (S, N, B) or None) from the bit-exact model."""
    from kgen.emulation.interp import Emulator

    X0, _ = Emulator(program).load(x)
    return expected_from(program, X0, trace)


def formula_step_cycles(plan: Plan) -> list[int]:
    """The formula's cycles of every Euler step, in execution order."""
    return [plan.step_cycles(wi) for wi, w in enumerate(plan.program.windows) for _ in range(w.steps)]


def check_cycles(plan: Plan, run_cycles, latency=None, step_cycles=None) -> None:
    """Measured cycles against the formula (a BenchMismatch names the first difference).

    run_cycles: the `cycles` port per inference; latency: last input taken -> first output valid per
    inference (the cocotb bench); step_cycles: cycles between the first debug beats of consecutive
    steps of one inference (the durations of steps 2, 3, ...)."""
    want = plan.run_cycles()
    first_out = want + 1 + LOAD_STAGES  # the LOAD pipeline drains before the first step
    for b, run in enumerate(run_cycles):
        lat = None if latency is None else latency[b]
        if run != want or (lat is not None and lat != first_out):
            found = f"{run}" + ("" if lat is None else f" and {lat}")
            raise BenchMismatch(expected_found(f"cycles of inference {b}", f"{want} (formula)" + (
                "" if lat is None else f", {first_out} from the last input to the first output"), found))
    if step_cycles is not None:
        per = formula_step_cycles(plan)[1:]
        got = list(step_cycles)
        if got != per:
            k = next((i for i, (g, p) in enumerate(zip(got, per)) if g != p), min(len(got), len(per)))
            raise BenchMismatch(expected_found(f"cycles of Euler step {k + 2}",
                                               f"{per[k] if k < len(per) else 'no step'} (ceil(E_w/L) + ceil(N/U) + "
                                               f"{plan.overhead})", f"{got[k] if k < len(got) else 'none'}"))


def cocotb_bench(plan: Plan, X0: np.ndarray, sim: Sim = Sim.ICARUS, trace: bool = False, seed: int = 0,
                 stall: float = 0.25, workdir=None) -> tuple[RtlReport, BenchResult]:
    """The cocotb bench from a loaded state X0 (N, B): zero mismatches and the cycle formula, or a BenchMismatch.
    Returns the report and the bench's findings (its outputs and, with a trace, every state it saw)."""
    program = plan.program
    x0, want, states = expected_from(program, X0, trace)
    res = run_bench(plan, x0, want, BenchOptions(sim=sim, trace=trace, stall=stall, seed=seed, workdir=workdir),
                    states=states)
    check_cycles(plan, res.run_cycles, res.latency, res.step_cycles if trace else None)
    report = RtlReport(
        circuit=program.name, sim=sim.value, lanes=plan.lanes, units=plan.units, storage=plan.storage.value,
        inputs=int(x0.shape[0]), steps=program.total_steps, outputs_checked=int(want.size),
        states_checked=res.states_checked, mismatches=0, cycles_per_inference=int(res.run_cycles[0]),
        formula_cycles=plan.run_cycles(), cycles_per_step=tuple(plan.step_cycles(i) for i in range(len(plan.slots))),
        overhead=plan.overhead, sim_cycles_per_second=float(res.cycles_per_second), build_seconds=res.build_seconds)
    return report, res


def verify_rtl(program: Program, config: HdlConfig, x: np.ndarray, sim: Sim = Sim.ICARUS, trace: bool = False,
               seed: int = 0, stall: float = 0.25, workdir=None) -> RtlReport:
    """The cocotb bench on data x (B, n_data) against the bit-exact model (see the module doc)."""
    from kgen.emulation.interp import Emulator

    X0, _ = Emulator(program).load(x)
    return cocotb_bench(make_plan(program, config), X0, sim, trace, seed, stall, workdir)[0]

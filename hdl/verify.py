"""RTL verification: the core's Verilog under cocotb against the bit-exact model, zero tolerance.

`verify_rtl` runs the program's own NumPy interpreter (emulation.interp) for
the expected outputs (and with a trace, every step's state), drives the RTL
through the cocotb bench and checks three things: every value equal, the
core's cycle count equal to the plan's formula, and (with a trace) every
step's cycles equal to ceil(E_w / L) + ceil(N / U) + C. `kgen verify MODEL
--view rtl` is its command line.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

import numpy as np

from kgen.circuit import Circuit
from kgen.emulation.program import Program
from kgen.errors import InputError, expected_found

from .plan import HdlConfig, Plan, make_plan
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


def raw_inputs(program: Program, x: np.ndarray) -> np.ndarray:
    """Float inputs (B, n_in) -> the integrator raw values the `inp` stream carries (B, n_in)."""
    from kgen.emulation.interp import Emulator

    X0, _ = Emulator(program).load(x)
    return X0[np.asarray(program.inputs) - 1].T.copy()


def expected(program: Program, x: np.ndarray, trace: bool):
    """(raw inputs (B, n_in), expected raw outputs (B, n_out), states (S, N, B) or None) from the bit-exact model."""
    from kgen.emulation.interp import Emulator

    em = Emulator(program)
    X0, _ = em.load(x)
    res = em.run_raw(X0, record=trace)
    x0 = X0[np.asarray(program.inputs) - 1].T.copy()
    want = res.final[np.asarray(program.outputs) - 1].T.copy()
    return x0, want, res.states


def check_cycles(plan: Plan, result: BenchResult, trace: bool) -> None:
    """The measured cycles against the formula (a BenchMismatch names the first difference)."""
    want = plan.run_cycles()
    for b, (run, lat) in enumerate(zip(result.run_cycles, result.latency)):
        if run != want or lat != want + 1:
            raise BenchMismatch(expected_found(f"cycles of inference {b}", f"{want} (formula), {want + 1} from the "
                                               "last input to the first output", f"{run} and {lat}"))
    if trace:
        per = [plan.step_cycles(wi) for wi, w in enumerate(plan.program.windows) for _ in range(w.steps)][1:]
        got = list(result.step_cycles)
        if got != per:
            k = next((i for i, (g, p) in enumerate(zip(got, per)) if g != p), min(len(got), len(per)))
            raise BenchMismatch(expected_found(f"cycles of Euler step {k + 2}",
                                               f"{per[k] if k < len(per) else 'no step'} (ceil(E_w/L) + ceil(N/U) + "
                                               f"{plan.overhead})", f"{got[k] if k < len(got) else 'none'}"))


def verify_rtl(program: Program, config: HdlConfig, x: np.ndarray, sim: Sim = Sim.ICARUS, trace: bool = False,
               seed: int = 0, stall: float = 0.25, workdir=None) -> RtlReport:
    plan = make_plan(program, config)
    x0, want, states = expected(program, x, trace)
    res = run_bench(plan, x0, want, BenchOptions(sim=sim, trace=trace, stall=stall, seed=seed, workdir=workdir),
                    states=states)
    check_cycles(plan, res, trace)
    return RtlReport(
        circuit=program.name, sim=sim.value, lanes=plan.lanes, units=plan.units, storage=plan.storage.value,
        inputs=int(x.shape[0]), steps=program.total_steps, outputs_checked=int(want.size),
        states_checked=res.states_checked, mismatches=0, cycles_per_inference=int(res.run_cycles[0]),
        formula_cycles=plan.run_cycles(), cycles_per_step=tuple(plan.step_cycles(i) for i in range(len(plan.slots))),
        overhead=plan.overhead, sim_cycles_per_second=float(res.cycles_per_second), build_seconds=res.build_seconds)


# -- `kgen verify MODEL --view rtl` ------------------------------------------------------------------

def _inputs(text: str, circuit: Circuit, seed: int) -> np.ndarray:
    """--inputs N (standard normal, --seed) or a (batch, n_inputs) .npy file."""
    try:
        n = int(text)
    except ValueError:
        from kgen.arrays import read_inputs

        return read_inputs(text, len(circuit.inputs))
    if n < 1:
        raise InputError(expected_found("--inputs", "a positive count or a .npy file", text))
    return np.random.default_rng(seed).standard_normal((n, len(circuit.inputs)))


def cmd_verify_rtl(argv: list[str], parser_class: type[argparse.ArgumentParser]) -> None:
    from .source import add_twin_arguments, choices_from_args, hdl_config, quant_config

    p = parser_class(prog="kgen verify --view rtl",
                     description="run the core's Verilog under the cocotb bench against the bit-exact model "
                                 "(zero tolerance) and check the cycle formula")
    p.add_argument("model", help="kgen model file or original checkpoint folder")
    p.add_argument("--view", required=True)
    p.add_argument("--sim", default="icarus", help="icarus (default) or verilator")
    p.add_argument("--inputs", default="4", help="N standard normal inputs (default 4) or a .npy file")
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs and the stream stalls")
    p.add_argument("--trace", action="store_true", help="also compare every step's state (the debug port)")
    p.add_argument("--stall", type=float, default=0.25, help="probability of a valid/ready gap (default 0.25)")
    p.add_argument("--json", action="store_true")
    add_twin_arguments(p)
    a = p.parse_args(argv)
    sim = Sim.parse(a.sim)
    if not 0 <= a.stall < 1:
        raise InputError(expected_found("--stall", "a probability in [0, 1)", str(a.stall)))
    from kgen.emulation.lower import lower
    from kgen.original import load_any

    circuit = load_any(a.model)
    choices = choices_from_args(a)
    x = _inputs(a.inputs, circuit, a.seed)
    cfg = quant_config(circuit, a.model, choices)
    program = lower(circuit, cfg, reverse=choices.reverse)
    report = verify_rtl(program, hdl_config(choices, cfg), x, sim, a.trace, a.seed, a.stall)
    if a.json:
        print(json.dumps(report.as_dict(), sort_keys=True))
        return
    what = f"{report.outputs_checked} outputs" + (f" and {report.states_checked} step states" if a.trace else "")
    print(f"{report.circuit}: RTL ({report.sim}, L={report.lanes}, U={report.units}, {report.storage}) vs bit-exact "
          f"model over {report.inputs} inputs x {report.steps} Euler steps")
    print(f"  0 mismatches in {what} (zero tolerance, random valid/ready stalls p={a.stall:g})")
    print(f"  cycles per inference {report.cycles_per_inference} = formula {report.formula_cycles}; per step "
          + ", ".join(str(c) for c in report.cycles_per_step)
          + f" = ceil(E_w/{report.lanes}) + ceil(N/{report.units}) + {report.overhead}")
    print(f"  cocotb: {report.sim_cycles_per_second:,.0f} cycles/s; build {report.build_seconds:.1f} s "
          "(0 = cached)")

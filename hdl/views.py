"""The `rtl` view: the core's Verilog in Icarus or Verilator, held to the fixed view bit for bit.

`kgen run MODEL --view rtl` lowers the program the fixed view lowers
(emulation.views.program_of: the model's stored `kgen quantize` choices, the
flags overriding), maps it onto the core (`--lanes` / `--units` / `--storage`,
else the model's hdl section, else 1; hdl.source), loads the inputs as the
bit-exact model does (`Emulator.load`) and runs them through one of two
benches:

* `--bench standalone` (default, hdl.testbench): a Verilog bench, no
  per-cycle Python, so whole trajectories run at simulator speed;
* `--bench cocotb` (hdl.runner + hdl.bench): the cocotb bench with random
  valid/ready stalls (`--stall`, `--stall-seed`), which also compares every
  output and step state with the bit-exact model itself (zero tolerance).

Either way the trace holds the integrator words the RTL reported on its
debug port, at the window boundaries or (Record.STEPS) after every step, and
the measured cycles must equal the plan's formula (a mismatch is one line).
`kgen verify MODEL --view rtl` compares that trace with the fixed view's at
the same steps and formats: integer words, atol 0.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass, replace

import numpy as np

from kgen.emulation.views import FixedOptions, fixed_reference_options
from kgen.errors import expected_found
from kgen.options import option
from kgen.quant import Storage
from kgen.views import Record, View

from .source import check_probability, check_twin_options, lanes_option, storage_option, units_option
from .tools import Sim

#: Above this many cycles a run in Icarus takes minutes: say that Verilator exists.
ICARUS_HINT_CYCLES = 500_000
#: The flag the core raises where the integrator or the read copy saturated (kgen.trace FLAG_NAMES: 2).
FLAG_SATURATED = 2


class Bench(enum.Enum):
    """Which bench drives the RTL."""

    STANDALONE = "standalone"  # hdl.testbench: a Verilog bench, whole trajectories at simulator speed
    COCOTB = "cocotb"  # hdl.bench: random valid/ready stalls, every state checked against the bit-exact model


@dataclass(frozen=True)
class RtlOptions(FixedOptions):
    """The fixed view's options (the program both run), and the core's and the bench's."""

    title = "rtl view"
    lanes: int | None = lanes_option()
    units: int | None = units_option()
    storage: Storage | None = storage_option()
    sim: Sim = option(Sim.ICARUS, help="RTL simulator: icarus, or verilator (hundreds of times faster on long "
                                       "trajectories; its build takes 10-40 s, cached per Verilog text)")
    bench: Bench = option(Bench.STANDALONE, help="standalone: a Verilog bench at simulator speed; cocotb: the "
                                                 "cocotb bench with random valid/ready stalls, checking every "
                                                 "output and step state against the bit-exact model")
    stall: float = option(0.25, help="cocotb bench: probability of a valid/ready gap per stream cycle")
    stall_seed: int = option(0, help="cocotb bench: seed of the stream stalls")

    def __post_init__(self):
        check_twin_options(self)
        check_probability(self.stall, "--stall")


def _rate(value: float) -> float:
    """Cycles per second as shown (whole cycles; NaN when the run took no measurable time)."""
    return float(round(value)) if np.isfinite(value) else float("nan")


def _warn_saturations(saturated: np.ndarray, steps: np.ndarray) -> None:
    """Saturated states the core reported (S, N, B), on stderr with counts (never dropped silently)."""
    if not saturated.any():
        return
    row, node, _ = np.argwhere(saturated)[0]
    print(f"kgen: warning: rtl view: {int(saturated.sum())} saturated states in the recorded steps (first at "
          f"step {int(steps[row])} node {int(node) + 1})", file=sys.stderr)


def _check_out_stream(program, states: np.ndarray, outputs: np.ndarray) -> None:
    """The `out` stream's words (B, n_out) must be the debug port's last states of the output nodes."""
    from .runner import BenchMismatch

    final = states[-1][np.asarray(program.outputs) - 1].T
    if not np.array_equal(final, outputs):
        b, j = (int(v) for v in np.argwhere(final != outputs)[0])
        raise BenchMismatch(expected_found(f"RTL out stream, input {b} output {j}",
                                           f"{int(final[b, j])} (the debug port's final state of node "
                                           f"{program.outputs[j]})", str(int(outputs[b, j]))))


def _progress_line(plan, bench: Bench, sim: Sim, cycles: int, rate: float, build: float) -> None:
    print(f"kgen: rtl view: {sim.value} ({bench.value} bench), L={plan.lanes}, U={plan.units}, "
          f"{cycles} cycles per inference, {rate:,.0f} cycles/s (build {build:.1f} s)", file=sys.stderr)


class RtlView(View):
    name = "rtl"
    description = "the fixed-point Euler core's Verilog (Amaranth) in Icarus or Verilator"
    Options = RtlOptions
    reference = "fixed"

    def reference_options(self, model, options: RtlOptions) -> dict:
        return fixed_reference_options(model, options)

    def run(self, model, x: np.ndarray, options: RtlOptions, record: Record = Record.BOUNDARIES):
        from kgen.emulation.interp import Emulator

        from .source import twin_plan

        plan = twin_plan(model, options, debug=True)
        program = plan.program
        X0, sat0 = Emulator(program).load(x)
        marks = None if record is Record.STEPS else program.boundary_steps()
        cycles = plan.run_cycles() * x.shape[0]
        if options.sim is Sim.ICARUS and cycles > ICARUS_HINT_CYCLES:
            print(f"kgen: rtl view: {cycles:,} cycles in Icarus (a few k cycles/s on this core, docs/hdl.md); "
                  "--sim verilator runs them hundreds of times faster", file=sys.stderr)
        details = {"bench": options.bench.value, "sim": options.sim.value, "lanes": plan.lanes,
                   "units": plan.units, "storage": plan.storage.value, "formula_cycles": plan.run_cycles(),
                   "cycles_per_step": tuple(plan.step_cycles(i) for i in range(len(plan.slots))),
                   "overhead": plan.overhead}
        if options.bench is Bench.STANDALONE:
            states, saturated, outputs, measured = self._standalone(plan, X0, options.sim, marks)
            label = f"RTL ({options.sim.value}, standalone bench, L={plan.lanes}, U={plan.units}, " \
                    f"{plan.storage.value} state)"
        else:
            states, saturated, outputs, measured = self._cocotb(plan, X0, options)
            label = f"RTL ({options.sim.value}, cocotb bench, L={plan.lanes}, U={plan.units}, " \
                    f"{plan.storage.value} state, valid/ready stalls p={options.stall:g})"
        details.update(measured)
        _check_out_stream(program, states, outputs)
        _progress_line(plan, options.bench, options.sim, details["cycles_per_inference"],
                       details["sim_cycles_per_second"], details["build_seconds"])
        states[0], saturated[0] = X0, sat0  # the loaded state: not on the debug port, the bench streamed it
        rows = slice(None) if marks is None else marks
        _warn_saturations(saturated[rows], np.arange(program.total_steps + 1)[rows])
        flags = np.where(saturated[rows], FLAG_SATURATED, 0).astype(np.uint8)
        trace = program.trace(states[rows], flags, "rtl", marks)
        return replace(trace, extra={**trace.extra, "label": label, "details": details})

    @staticmethod
    def _standalone(plan, X0, sim: Sim, marks):
        from .testbench import run_standalone
        from .verify import check_cycles, input_words

        res = run_standalone(plan, input_words(plan.program, X0), sim, trace=True, marks=marks)
        check_cycles(plan, [int(c) for c in res.cycles], step_cycles=res.step_cycles if marks is None else None)
        return res.states, res.saturated, res.outputs, {
            "cycles_per_inference": int(res.cycles[0]), "sim_cycles_per_second": _rate(res.cycles_per_second),
            "build_seconds": round(res.build_seconds, 3)}

    @staticmethod
    def _cocotb(plan, X0, options: RtlOptions):
        from .verify import cocotb_bench

        report, res = cocotb_bench(plan, X0, options.sim, trace=True, seed=options.stall_seed,
                                   stall=options.stall)
        return res.states, res.saturated, res.outputs, {
            "cycles_per_inference": report.cycles_per_inference,
            "sim_cycles_per_second": _rate(report.sim_cycles_per_second), "build_seconds": round(report.build_seconds, 3),
            "outputs_checked": report.outputs_checked, "states_checked": report.states_checked,
            "mismatches": report.mismatches, "stall": options.stall}


VIEW = RtlView()

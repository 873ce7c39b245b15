"""`kgen run --view rtl`, the rtl verifier and `kgen verify --view rtl`.

The run view drives the core's Verilog from the standalone Verilog bench
(testbench.py: no per-cycle Python), so whole trajectories run at simulator
speed, and returns the output nodes' integrator values like every other
view. The numeric choices are the fixed view's (emulation.views.run_config:
the model's stored `kgen quantize` choices, `--steps` overriding), so
`--view rtl` and `--view fixed` execute the same program.
"""

from __future__ import annotations

import sys

import numpy as np

from kgen.circuit import Circuit
from kgen.verify import Boundaries, VerifyOptions, register_verifier, register_verify_command
from kgen.views import RunOptions, register_view

from .tools import Sim

#: Above this many cycles a run in Icarus takes minutes: say that Verilator exists.
ICARUS_HINT_CYCLES = 500_000


def _program(circuit: Circuit, opts: RunOptions, debug: bool):
    """The lowered program and the core's configuration: `--lanes`, else the model's stored
    `kgen quantize` choice, else 1 lane; the stored update units, else 1."""
    from kgen.emulation.lower import lower
    from kgen.emulation.views import run_config

    cfg = run_config(circuit, opts)
    from .source import TwinChoices, hdl_config

    program = lower(circuit, cfg, reverse=bool(opts.get("reverse", False)))
    return program, hdl_config(TwinChoices(lanes=opts.get("lanes")), cfg, debug=debug)


@register_view("rtl")
def run_rtl(circuit: Circuit, inputs: np.ndarray, opts: RunOptions) -> np.ndarray:
    """The core's Verilog in Icarus or Verilator (`--sim`), from a standalone bench."""
    from .plan import make_plan
    from .testbench import run_standalone
    from .verify import raw_inputs

    trace = getattr(opts, "trace", None)
    program, config = _program(circuit, opts, debug=bool(trace))
    plan = make_plan(program, config)
    sim = Sim.parse(opts.get("sim") or "icarus")
    cycles = plan.run_cycles() * len(inputs)
    if sim is Sim.ICARUS and cycles > ICARUS_HINT_CYCLES:
        print(f"kgen: rtl view: {cycles:,} cycles in Icarus (a few k cycles/s on this core, docs/hdl.md); "
              "--sim verilator runs them hundreds of times faster", file=sys.stderr)
    res = run_standalone(plan, raw_inputs(program, inputs), sim, trace=bool(trace))
    print(f"kgen: rtl view: {sim.value}, L={plan.lanes}, {int(res.cycles[0])} cycles per inference, "
          f"{res.cycles_per_second:,.0f} cycles/s (build {res.build_seconds:.1f} s)", file=sys.stderr)
    if trace:
        _write_trace(trace, program, res)
    return program.integrator.values(res.outputs)


def _write_trace(path, program, res) -> None:
    """The RTL's every-step states in the one trace format (source "rtl"; flag 2 where it saturated)."""
    from kgen.emulation.trace import Trace, write_trace

    fmt, n = program.integrator, program.n_nodes
    raw = np.transpose(res.states, (0, 2, 1))
    flags = np.where(np.transpose(res.saturated, (0, 2, 1)), 2, 0).astype(np.uint8)
    write_trace(path, Trace(program.step_times(), fmt.values(raw), flags, program.step_windows(), "rtl", "euler",
                            program.digest, True, raw, np.full(n, fmt.signed), np.full(n, fmt.int_bits),
                            np.full(n, fmt.frac_bits)))


@register_verifier("rtl")
def verify_rtl_boundaries(circuit: Circuit, inputs: np.ndarray, opts: VerifyOptions) -> Boundaries:
    """The RTL's node voltages at the window boundaries (for comparisons against the float reference)."""
    from .plan import make_plan
    from .testbench import run_standalone
    from .verify import raw_inputs

    program, config = _program(circuit, RunOptions(), debug=True)
    plan = make_plan(program, config)
    res = run_standalone(plan, raw_inputs(program, inputs), Sim.ICARUS, trace=True)
    marks = np.cumsum([0] + [w.steps for w in program.windows])
    states = program.integrator.values(res.states[marks])  # (W + 1, N, B)
    times = np.asarray([program.windows[0].t_from] + [w.t_to for w in program.windows])
    return Boundaries(times, np.transpose(states, (0, 2, 1)), None,
                      f"RTL (Icarus, L={plan.lanes}), {program.total_steps} Euler steps")


def _verify_command(argv, parser_class):
    from .verify import cmd_verify_rtl

    cmd_verify_rtl(argv, parser_class)


register_verify_command("rtl")(_verify_command)

"""The `fixed` view (the bit-exact model) and the float view's trace writer.

`kgen run MODEL --view fixed` lowers the circuit with the model's stored
`kgen quantize` choices (quant.json; defaults plus `--steps` when absent),
runs the bit-exact model and returns the integrator values of the output
nodes. Saturations and overflows are reported on stderr with counts, never
dropped silently. `--trace FILE` writes every step in the trace format, with
the derived error bound against float Euler when the circuit is small.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from kgen.circuit import Circuit
from kgen.errors import InputError, expected_found
from kgen.views import RunOptions, register_view


def run_config(circuit: Circuit, opts: RunOptions):
    """QuantConfig for a run: the model's quant.json, else defaults; --steps overrides the step counts."""
    from kgen.modelfile import circuit_digest

    from .config import QuantConfig, load_quant

    model = opts.get("model_path")
    cfg = load_quant(model, circuit_digest(circuit)) if model else None
    cfg = cfg or QuantConfig()
    steps = opts.get("steps_per_window")
    if steps:
        cfg = cfg.with_steps([int(steps)] * len(circuit.windows))
    if cfg.steps is None:
        raise InputError(expected_found("fixed view step counts", "a model quantized by `kgen quantize` or --steps N",
                                        "neither"))
    return cfg


def warn_counts(result, what: str = "fixed view") -> None:
    text = result.summary()
    if text:
        print(f"kgen: warning: {what}: {text}", file=sys.stderr)


@register_view("fixed")
def run_fixed(circuit: Circuit, inputs: np.ndarray, opts: RunOptions) -> np.ndarray:
    """The bit-exact fixed-point Euler model (the RTL's golden reference)."""
    from .interp import Emulator
    from .lower import lower
    from .trace import fixed_trace, write_trace

    cfg = run_config(circuit, opts)
    program = lower(circuit, cfg, reverse=bool(opts.get("reverse", False)))
    if program.param_saturations:
        print("kgen: warning: fixed view: saturated parameters: "
              + ", ".join(f"{k}: {v}" for k, v in program.param_saturations), file=sys.stderr)
    trace = getattr(opts, "trace", None)
    result = Emulator(program).run(inputs, record=bool(trace))
    warn_counts(result)
    if trace:
        from .bound import DENSE_NODES, propagate

        bound = None
        if circuit.n_nodes <= DENSE_NODES:
            bound = propagate(circuit, program, inputs).bound
        write_trace(trace, fixed_trace(program, result, bound))
    return result.outputs


def float_trajectory(circuit: Circuit, inputs: np.ndarray, solver, reverse: bool, points: int | None):
    """(times, states (S, N, B), windows, fixed_step) of the float model.

    Fixed-step methods record every step (`points` = steps per window); adaptive
    ones record `points` evenly spaced times per window (100 if not given).
    """
    import torch

    from kgen.model import FIXED_STEP, KirchhoffNet, _odeint

    model = KirchhoffNet(circuit, solver.torch_dtype)
    fixed = solver.method in FIXED_STEP and bool(solver.steps_per_window)
    per = solver.steps_per_window if fixed else (points or 100)
    order = range(len(circuit.windows) - 1, -1, -1) if reverse else range(len(circuit.windows))
    times, states, wins = [], [], []
    with torch.no_grad():
        v = model.initial_state(torch.as_tensor(inputs, dtype=solver.torch_dtype))
        first = True
        for w in order:
            f = model.fields[w]
            a, b = (f.t_end, f.t_start) if reverse else (f.t_start, f.t_end)
            t = torch.linspace(a, b, per + 1, dtype=model.dtype)
            out = _odeint(f, v, t, solver if fixed else replace(solver, steps_per_window=None))
            keep = slice(0 if first else 1, None)
            times.append(t.numpy()[keep])
            states.append(out.double().numpy()[keep])
            wins += [w] * (per + 1 if first else per)
            v = out[-1]
            first = False
    return np.concatenate(times), np.concatenate(states), np.asarray(wins), fixed


def write_float_trace(circuit: Circuit, inputs: np.ndarray, solver, path, reverse: bool = False) -> None:
    """The float view's `--trace`: every step for fixed-step methods, else 100 points per window."""
    from kgen.modelfile import circuit_digest

    from .trace import float_trace, write_trace

    t, states, wins, fixed = float_trajectory(circuit, inputs, solver, reverse, None)
    write_trace(path, float_trace(t, states, wins, solver.method, circuit_digest(circuit), fixed))

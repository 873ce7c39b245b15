"""`kgen quantize`: choose the step size and the formats from calibration runs.

1. The direction: the one the twin runs. Forward (t0 -> T; for flow models
   noise -> data, their sampling direction) unless `--reverse` (T -> t0; flow
   models data -> noise); the calibration inputs are `--data` or standard
   normal draws of the model's input width.
2. dt: the largest candidate whose float Euler error against dopri5 (mean
   over inputs of the per-input max over window boundaries) is within
   `euler_tol` and that satisfies dt <= 2 / rho(J) along the trajectories.
3. Integer bits: the observed max |v| over every step, times `margin`.
4. Parameter bits, then read bits, from the target error (precision.py).
5. The HDL twin's parallelism: `--lanes` / `--units`, else U = 1 and the
   balanced lane count (config.balanced_lanes), stored for `--target verilog`
   and the rtl view.
6. The chosen configuration is measured once more: error against float Euler,
   the derived bound (small circuits), saturations over the whole calibration
   set, sample displacement against dopri5 (generation models) and argmax
   agreement (classifiers).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from kgen.circuit import Circuit, ModelTask
from kgen.errors import InputError, expected_found

from .bound import DENSE_NODES, propagate
from .calibrate import Ranges, StepChoice, choose_step, dopri5_boundaries, integer_bits, observe_ranges
from kgen.quant import MAX_UNITS, HdlChoices, QuantConfig, balanced_lanes, check_lanes, check_parallelism
from .interp import Emulator
from .lower import lower, steps_for
from .precision import ErrorProbe, Measure, TableCell, accuracy_table, search_param_width, search_read_width, \
    with_width
from .program import Program

DT_CANDIDATES = (0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
WIDTHS = (12, 14, 16, 18, 20, 22, 24)


@dataclass(frozen=True)
class QuantizeOptions:
    target: float = 1e-2  # max |fixed - float Euler| on the calibration inputs
    euler_tol: float = 5e-2  # mean |float Euler - dopri5| at the window boundaries
    agreement: float = 0.999  # classifiers: argmax agreement of float Euler with dopri5 that picks dt
    dt: float | None = None  # force the step size
    dt_candidates: tuple[float, ...] = DT_CANDIDATES
    read_width: int | None = None  # None: from the target
    integrator_width: int = 32
    param_width: int | None = None  # None: from the target
    margin: float = 1.5
    reverse: bool = False  # calibrate (and size) the twin for T -> t0 (flow models: data -> noise)
    allow_unstable: bool = False  # accept a forced dt above the stability bound 2 / rho
    ref_samples: int = 256  # inputs integrated with dopri5
    eval_samples: int = 256  # inputs for the fixed-point measurements
    table_samples: int = 64
    table_widths: tuple[int, ...] = WIDTHS
    table: bool = True
    read_feedback: bool = True
    allow_saturation: bool = False
    param_formats: tuple = ()  # (kind, piece, QFormat) fixed by the user
    threads: int | None = None
    lanes: int | None = None  # the HDL twin's edge lanes (None: balanced against the node count)
    units: int | None = None  # the HDL twin's update units (None: 1)

    def __post_init__(self):
        if self.lanes is not None:
            check_lanes(self.lanes)
        if self.units is not None:
            check_lanes(self.units, "--units", MAX_UNITS)
        from kgen.options import positive

        positive(self.target, "--accuracy")
        positive(self.euler_tol, "--euler-tol")
        positive(self.dt, "--dt")
        for label, v in (("--dt-candidates", c) for c in self.dt_candidates):
            positive(v, label)
        if self.threads is not None and self.threads < 1:
            raise InputError(expected_found("--threads", "a positive count", str(self.threads)))
        for label, v in (("--read-width", self.read_width), ("--param-width", self.param_width)):
            if v is not None and not 4 <= v <= 40:
                raise InputError(expected_found(label, "4..40 bits", str(v)))
        if not 16 <= self.integrator_width <= 48:
            raise InputError(expected_found("--integrator-width", "16..48 bits", str(self.integrator_width)))
        if not (isinstance(self.agreement, (int, float)) and 0 < self.agreement <= 1):
            raise InputError(expected_found("--agreement", "a fraction in (0, 1]", str(self.agreement)))
        if not (isinstance(self.margin, (int, float)) and math.isfinite(self.margin) and self.margin >= 1):
            raise InputError(expected_found("--margin", "at least 1", str(self.margin)))


@dataclass(frozen=True, eq=False)
class QuantizeResult:
    config: QuantConfig
    hdl: HdlChoices
    program: Program
    reverse: bool
    n_samples: int
    step: StepChoice
    ranges: Ranges
    int_bits: int
    param_search: list
    read_search: list
    table: list[TableCell]
    final: Measure  # fixed vs float Euler, eval inputs
    bound_max: float | None
    bound_p99: float | None
    within_bound: bool | None
    calibration_saturations: int  # over the eval inputs, in the chosen configuration
    calibration_overflows: int
    saturation_summary: str
    displacement_fixed: float | None  # mean L2 of final states vs dopri5 (generation models)
    displacement_euler: float | None
    agreement: float | None  # argmax agreement with float dopri5 (classifiers)
    tanh_share: float | None  # table error x max fan-in x T, against the target
    params: dict = field(default_factory=dict)  # (kind, piece) -> float values for the histograms

    def summary(self) -> dict:
        """What goes into quant.json's report section."""
        cfg = self.config
        out = {
            "direction": "reverse" if self.reverse else "forward", "samples": self.n_samples,
            "dt": self.step.dt, "steps": list(cfg.steps), "dt_met_tolerance": self.step.met,
            "dt_stable": self.step.dt_stable, "read": str(cfg.read), "integrator": str(cfg.integrator),
            "param_width": cfg.param_width, "vmax": self.ranges.overall, "lanes": self.hdl.lanes, "units": self.hdl.units,
            "error_vs_float_euler": {"max": self.final.max, "p99": self.final.p99, "mean": self.final.mean},
            "saturations": self.calibration_saturations, "overflows": self.calibration_overflows,
        }
        if self.bound_max is not None:
            out["bound"] = {"max": self.bound_max, "p99": self.bound_p99, "measured_within": self.within_bound}
        if self.displacement_fixed is not None:
            out["displacement_vs_dopri5"] = {"fixed": self.displacement_fixed, "float_euler": self.displacement_euler}
        if self.agreement is not None:
            out["argmax_agreement_vs_dopri5"] = self.agreement
        if self.program.param_saturations:
            out["parameter_saturations"] = dict(self.program.param_saturations)
        return out


def _say(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def quantize(circuit: Circuit, x: np.ndarray, opts: QuantizeOptions = QuantizeOptions(), say=_say) -> QuantizeResult:
    x = np.asarray(x, dtype=np.float64)
    reverse = bool(opts.reverse)
    # user-given parameter formats that cannot hold a parameter fail here, before any calibration
    lower(circuit, QuantConfig(param_formats=tuple(opts.param_formats), allow_saturation=opts.allow_saturation,
                               steps=(1,) * len(circuit.windows)), reverse=reverse)
    x_ref, x_eval = x[: opts.ref_samples], x[: opts.eval_samples]
    say(f"dopri5 reference on {len(x_ref)} inputs ({'reverse' if reverse else 'forward'})")
    ref, interior = dopri5_boundaries(circuit, x_ref[:64], reverse, inner=8)
    if len(x_ref) > 64:
        ref = np.concatenate([ref, dopri5_boundaries(circuit, x_ref[64:], reverse)], axis=2)
    agree = opts.agreement if circuit.task is ModelTask.CLASSIFIER else None
    step = choose_step(circuit, x_ref, ref, interior, reverse, opts.dt_candidates, opts.euler_tol, opts.dt, agree,
                       opts.allow_unstable)
    say(f"dt {step.dt:g} ({step.note}); stability bound 2/rho = {step.dt_stable:.3g}")
    ranges = observe_ranges(circuit, x, step.steps, reverse)
    int_bits = integer_bits(ranges.overall, opts.margin)
    say(f"max |v| {ranges.overall:.4g} -> {int_bits} integer bits")
    base = QuantConfig(read_feedback=opts.read_feedback, allow_saturation=opts.allow_saturation, steps=step.steps,
                       param_formats=tuple(opts.param_formats))
    probe = ErrorProbe(circuit, x_eval, step.steps, reverse, opts.threads)
    if opts.param_width is None:
        pw, param_search = search_param_width(probe, base, int_bits, opts.integrator_width, opts.target / 4)
    else:
        pw, param_search = opts.param_width, []
    base = replace(base, param_width=pw)
    if opts.read_width is None:
        rw, read_search = search_read_width(probe, base, int_bits, opts.integrator_width, opts.target / 2,
                                            opts.table_widths)
    else:
        rw, read_search = opts.read_width, []
    cfg = with_width(base, int_bits, rw, opts.integrator_width)
    say(f"parameters {pw} bits, read {cfg.read}, integrator {cfg.integrator}")
    program = lower(circuit, cfg, reverse=reverse)
    hdl = twin_parallelism(program, opts)
    say(f"HDL twin: L = {hdl.lanes} edge lanes, U = {hdl.units} update units")
    final = probe.measure(cfg)
    table = []
    if opts.table:
        dts = [d for d in sorted(set(opts.dt_candidates) | {step.dt}, reverse=True) if d >= step.dt]
        table = accuracy_table(circuit, x[: opts.table_samples], reverse, cfg, int_bits, opts.integrator_width, dts,
                               opts.table_widths, lambda d: steps_for(circuit, d), opts.threads)
    _, run = probe.last  # the chosen configuration's run on the eval inputs (boundary states)
    marks = program.boundary_steps()
    bound_max = bound_p99 = within = None
    if circuit.n_nodes <= DENSE_NODES:
        br = propagate(circuit, program, x_eval)
        err = np.abs(program.integrator.values(run.states) - br.float_states[marks])
        per = br.bound[marks].max(axis=(0, 1))
        bound_max, bound_p99 = float(per.max()), float(np.quantile(per, 0.99))
        within = bool(np.all(err <= br.bound[marks]))
    n_ref = len(x_ref)
    if len(x_eval) >= n_ref:
        fixed_final = program.integrator.values(run.states[-1][:, :n_ref])
        euler_final = probe.u[-1][:, :n_ref]
    else:
        fixed_final = program.integrator.values(Emulator(program, threads=opts.threads).run(x_ref).final)
        euler_final = probe_final(circuit, x_ref, step.steps, reverse)
    disp_fixed = disp_euler = agreement = None
    out_ref = ref[-1]
    if circuit.task is ModelTask.FLOW:
        disp_fixed = float(np.mean(np.sqrt(((fixed_final - out_ref) ** 2).sum(0))))
        disp_euler = float(np.mean(np.sqrt(((euler_final - out_ref) ** 2).sum(0))))
    if circuit.task is ModelTask.CLASSIFIER:
        out_idx = np.asarray(circuit.outputs) - 1
        agreement = float(np.mean(fixed_final[out_idx].argmax(0) == out_ref[out_idx].argmax(0)))
    tanh_share = None
    if program.tanh is not None:
        fan_in = max(int(np.bincount(np.concatenate([w.src, w.des]), minlength=circuit.n_nodes + 1)[1:].max())
                     for w in program.windows)
        span = circuit.t_final - circuit.windows[0].t_start
        tanh_share = program.tanh.max_error_with_rounding * fan_in * span / opts.target
    params = {}
    for pw_ in program.windows:
        for (k, _, _), p in zip(pw_.kind_ranges, pw_.params):
            kp = program.kinds[k]
            for row, (name, fmt) in enumerate(zip(kp.params, kp.param_formats)):
                params.setdefault((kp.kind, name, str(fmt)), []).append(fmt.values(p[row]))
    params = {key: np.concatenate(v) for key, v in params.items()}
    say(f"fixed vs float Euler: max {final.max:.3g}, p99 {final.p99:.3g}"
        + (f"; bound max {bound_max:.3g}" if bound_max is not None else ""))
    return QuantizeResult(cfg, hdl, program, reverse, len(x), step, ranges, int_bits, param_search, read_search, table,
                          final, bound_max, bound_p99, within, run.total_saturations, run.total_overflows,
                          run.summary(), disp_fixed, disp_euler, agreement, tanh_share, params)


def twin_parallelism(program: Program, opts: QuantizeOptions) -> HdlChoices:
    """lanes and units for hdl.json: the user's, else U = 1 and the balanced lane count."""
    edges = [w.n_edges for w in program.windows]
    units = opts.units or 1
    lanes = opts.lanes or balanced_lanes(edges, program.n_nodes, units)
    lanes, units = check_parallelism(lanes, units, edges, program.n_nodes)
    return HdlChoices(lanes=lanes, units=units)


def probe_final(circuit: Circuit, x: np.ndarray, steps, reverse: bool) -> np.ndarray:
    from .floatref import FloatEuler

    return FloatEuler(circuit).run(x, steps, reverse)[0]


def calibration_inputs(circuit: Circuit, data: np.ndarray | None, samples: int, seed: int) -> np.ndarray:
    if data is not None:
        return data
    return np.random.RandomState(seed).randn(samples, circuit.n_data)

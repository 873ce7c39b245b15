"""The `kgen quantize` and `kgen diff` verbs (dispatched from kgen.cli)."""

from __future__ import annotations

import json
from pathlib import Path

from kgen.errors import InputError, expected_found


def quantize_command(argv, parser_cls, description: str) -> None:
    from .quantize import DT_CANDIDATES

    p = parser_cls(prog="kgen quantize", description=description)
    p.add_argument("model")
    p.add_argument("-o", "--output", required=True, help="model file to write, with the chosen formats (quant.json)")
    p.add_argument("--report", help="report folder (default: OUTPUT's name + '.report')")
    p.add_argument("--data", help="calibration inputs, a (batch, n_inputs) .npy (default: standard normal draws)")
    p.add_argument("--samples", type=int, default=1000, help="standard-normal calibration inputs (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=1e-2, help="max |fixed - float Euler| to aim for (default 1e-2)")
    p.add_argument("--euler-tol", type=float, default=5e-2,
                   help="mean |float Euler - dopri5| at the window boundaries that picks dt (default 5e-2)")
    p.add_argument("--agreement", type=float, default=0.999,
                   help="classifiers: argmax agreement of float Euler with dopri5 that picks dt (default 0.999)")
    p.add_argument("--dt", type=float, help="use this step size instead of choosing one")
    p.add_argument("--dt-candidates", help="comma-separated step sizes to try (default "
                   + ",".join(f"{d:g}" for d in DT_CANDIDATES) + ")")
    p.add_argument("--read-width", type=int, help="read word bits (default: from the target)")
    p.add_argument("--param-width", type=int, help="parameter word bits (default: from the target)")
    p.add_argument("--integrator-width", type=int, default=32)
    p.add_argument("--margin", type=float, default=1.5, help="range margin over the observed max |v| (default 1.5)")
    direction = p.add_mutually_exclusive_group()
    direction.add_argument("--reverse", dest="reverse", action="store_const", const=True,
                           help="calibrate noise -> data (the default for flow models)")
    direction.add_argument("--forward", dest="reverse", action="store_const", const=False)
    p.add_argument("--plain-read", action="store_true", help="no read feedback (plain rounded read copy)")
    p.add_argument("--param-format", action="append", default=[], metavar="KIND.PIECE=FORMAT",
                   help="fix a parameter format, e.g. ShiftTanh2.w_src=s2.16 (repeatable; pieces: scale, w_src, "
                        "w_des, bias)")
    p.add_argument("--allow-saturation", action="store_true",
                   help="parameters outside their formats saturate instead of failing")
    p.add_argument("--ref-samples", type=int, default=256, help="inputs integrated with dopri5 (default 256)")
    p.add_argument("--eval-samples", type=int, default=256, help="inputs for the fixed-point searches (default 256)")
    p.add_argument("--table-samples", type=int, default=64, help="inputs per accuracy-table cell (default 64)")
    p.add_argument("--no-table", action="store_true", help="skip the accuracy table over widths and dt")
    p.add_argument("--threads", type=int)
    p.add_argument("--lanes", type=int, help="HDL twin: edge lanes L to store (default: balanced against the "
                                              "node count, at most 16)")
    p.add_argument("--units", type=int, help="HDL twin: update units U to store (default 1)")
    a = p.parse_args(argv)

    from kgen.arrays import read_inputs
    from kgen.fsutil import output_directory
    from kgen.modelfile import circuit_digest, read_members, save_model
    from kgen.original import load_any

    from .config import MEMBER, quant_json
    from .quantize import QuantizeOptions, calibration_inputs, quantize
    from .report import write_report

    for label, v in (("--samples", a.samples), ("--ref-samples", a.ref_samples), ("--eval-samples", a.eval_samples),
                     ("--table-samples", a.table_samples)):
        if v < 1:
            raise InputError(expected_found(label, "a positive count", str(v)))
    cands = DT_CANDIDATES
    if a.dt_candidates:
        try:
            cands = tuple(float(v) for v in a.dt_candidates.split(","))
        except ValueError:
            raise InputError(expected_found("--dt-candidates", "comma-separated numbers", repr(a.dt_candidates))) \
                from None
        if not cands or min(cands) <= 0:
            raise InputError(expected_found("--dt-candidates", "positive step sizes", repr(a.dt_candidates)))
    circuit = load_any(a.model)
    fixed_formats = tuple(_param_format(text, circuit) for text in a.param_format)
    data = read_inputs(a.data, len(circuit.inputs)) if a.data else None
    x = calibration_inputs(circuit, data, a.samples, a.seed)
    opts = QuantizeOptions(target=a.target, euler_tol=a.euler_tol, agreement=a.agreement, dt=a.dt, dt_candidates=cands,
                           read_width=a.read_width, integrator_width=a.integrator_width, param_width=a.param_width,
                           margin=a.margin, reverse=a.reverse, ref_samples=a.ref_samples,
                           eval_samples=a.eval_samples, table_samples=a.table_samples, table=not a.no_table,
                           read_feedback=not a.plain_read, allow_saturation=a.allow_saturation,
                           param_formats=fixed_formats, threads=a.threads, lanes=a.lanes, units=a.units)
    res = quantize(circuit, x, opts)
    digest = circuit_digest(circuit)
    extra = {}
    src = Path(a.model)
    if src.is_file():
        extra = {k: v for k, v in read_members(src).items()
                 if k not in ("circuit.json", "params.npz", "DIGEST", MEMBER)}
    extra[MEMBER] = quant_json(res.config, digest, _finite(res.summary()))
    save_model(circuit, a.output, extra)
    report = Path(a.report) if a.report else Path(str(a.output) + ".report")
    with output_directory(report, {"kgen": "quantize report", "digest": digest}) as stage:
        write_report(res, stage, circuit.name)
    f = res.final
    cfg = res.config
    print(f"quantized {circuit.name}: dt {res.step.dt:g} ({sum(cfg.steps)} Euler steps), read {cfg.read}, "
          f"integrator {cfg.integrator}, parameters {cfg.param_width} bits, HDL L={cfg.lanes} U={cfg.units} "
          f"-> {a.output}")
    line = f"  fixed vs float Euler: max {f.max:.3g}, p99 {f.p99:.3g}, mean {f.mean:.3g}"
    if res.bound_max is not None:
        line += f"; derived bound max {res.bound_max:.3g} ({'holds' if res.within_bound else 'VIOLATED'})"
    print(line)
    if res.displacement_fixed is not None:
        print(f"  mean sample displacement vs dopri5: fixed {res.displacement_fixed:.3g}, "
              f"float Euler {res.displacement_euler:.3g}")
    if res.agreement is not None:
        print(f"  argmax agreement with float dopri5: {100 * res.agreement:.2f} %")
    if res.program.param_saturations:
        print("  warning: saturated parameters: " + ", ".join(f"{k}: {v}" for k, v in res.program.param_saturations))
    if res.calibration_saturations or res.calibration_overflows:
        print(f"  warning: {res.saturation_summary}")
    if not res.step.met:
        print(f"  note: {res.step.note}")
    if not f.max <= a.target:
        print(f"  note: the target {a.target:g} is not met (max {f.max:.3g}); wider words (--read-width, "
              f"--param-width, --integrator-width) or calibration data like the real inputs (--data) may help")
    print(f"  report: {report}/report.md")


def _param_format(text: str, circuit):
    from .edges import PIECES
    from .qformat import QFormat

    target, sep, fmt = text.partition("=")
    kind, dot, piece = target.partition(".")
    if not (sep and dot) or kind not in circuit.kinds or piece not in PIECES:
        raise InputError(expected_found("--param-format", "KIND.PIECE=FORMAT with KIND one of "
                                        + ", ".join(circuit.kinds) + " and PIECE one of " + ", ".join(PIECES),
                                        repr(text)))
    return kind, piece, QFormat.parse(fmt)


def _finite(obj):
    import math

    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def diff_command(argv, parser_cls, description: str) -> None:
    p = parser_cls(prog="kgen diff", description=description)
    p.add_argument("trace_a")
    p.add_argument("trace_b")
    p.add_argument("--atol", type=float, help="absolute tolerance (default: the traces' derived bound, bits for "
                                              "two fixed-point traces of the same formats)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    from .diff import diff
    from .trace import read_trace

    if a.atol is not None and a.atol < 0:
        raise InputError(expected_found("--atol", "a non-negative tolerance", str(a.atol)))
    res = diff(read_trace(a.trace_a), read_trace(a.trace_b), a.atol)
    if a.json:
        print(json.dumps(_finite(dict(res.__dict__, diverged=res.diverged)), sort_keys=True))
    else:
        print(res.summary())
    if res.diverged:
        raise SystemExit(1)

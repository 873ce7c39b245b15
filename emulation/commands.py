"""`kgen quantize`: the verb the emulation package adds (entry point `kgen.commands`), and its Python API.

Chooses the fixed-point formats and Euler steps (quantize.py), stores them in
the model's quant section and the HDL twin's lanes and units in its hdl
section, and writes a report folder beside the output model.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from kgen.commands import Command
from kgen.errors import InputError, expected_found

DEFAULT_SAMPLES = 1000


@dataclass(frozen=True, eq=False)
class Quantized:
    model: object  # the quantized kgen Model (quant and hdl sections filled)
    result: object  # quantize.QuantizeResult: the choices, the searches and the measurements


def _param_format(text: str, circuit):
    from kgen.devices import PIECES
    from kgen.qformat import QFormat

    target, sep, fmt = text.partition("=")
    kind, dot, piece = target.partition(".")
    if not (sep and dot) or kind not in circuit.kinds or piece not in PIECES:
        raise InputError(expected_found("--param-format", "KIND.PIECE=FORMAT with KIND one of "
                                        + ", ".join(circuit.kinds) + " and PIECE one of " + ", ".join(PIECES),
                                        repr(text)))
    return kind, piece, QFormat.parse(fmt)


def quantize_model(model, data=None, samples: int = DEFAULT_SAMPLES, seed: int = 0, **options) -> Quantized:
    """Quantize a Model: `data` (batch, n_data) calibration inputs, else `samples` standard normal draws;
    `options` are QuantizeOptions fields (accuracy, dt, read_width, lanes, ...)."""
    from dataclasses import fields

    from kgen.jsontext import finite
    from kgen.layout import check_data

    from .quantize import QuantizeOptions, calibration_inputs, quantize

    known = {f.name for f in fields(QuantizeOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(expected_found(f"quantize option {unknown[0]!r}", "one of " + ", ".join(sorted(known)),
                                        repr(unknown[0])))
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InputError(expected_found("--samples", "a positive count", str(samples)))
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise InputError(expected_found("--seed", f"a seed in 0..{2 ** 32 - 1}", str(seed)))
    options["param_formats"] = tuple(_param_format(t, model.circuit) if isinstance(t, str) else t
                                     for t in options.get("param_formats", ()))
    x = calibration_inputs(model.circuit, None if data is None else check_data(model.circuit, data, "--data"),
                           samples, seed)
    res = quantize(model.circuit, x, QuantizeOptions(**options))
    from dataclasses import replace

    cfg = replace(res.config, extra=finite(res.summary()))
    return Quantized(model.replace(quant=cfg, hdl=res.hdl), res)


def _counts(text: str | None, flag: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(expected_found(flag, "comma-separated numbers", repr(text))) from None
    if not values or min(values) <= 0:
        raise InputError(expected_found(flag, "positive step sizes", repr(text)))
    return values


class QuantizeCommand(Command):
    name = "quantize"
    description = "choose fixed-point formats and Euler steps; store them in the model, write a report"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from .quantize import DT_CANDIDATES

        p.add_argument("model", help="kgen model file or original checkpoint folder")
        p.add_argument("-o", "--output", required=True, help="model file to write, with the chosen formats")
        p.add_argument("--report", help="report folder (default: OUTPUT's name + '.report')")
        p.add_argument("--force", action="store_true", help="replace the report folder even if it holds files kgen "
                                                            "did not write (they are lost)")
        p.add_argument("--data", help="calibration inputs, a (batch, n_inputs) .npy (default: standard normal draws)")
        p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                       help=f"standard-normal calibration inputs (default {DEFAULT_SAMPLES})")
        p.add_argument("--seed", type=int, default=0, help="seed of --samples (default 0)")
        p.add_argument("--accuracy", type=float, default=1e-2,
                       help="max |fixed - float Euler| to aim for (default 1e-2)")
        p.add_argument("--euler-tol", type=float, default=5e-2,
                       help="mean |float Euler - dopri5| at the window boundaries that picks dt (default 5e-2)")
        p.add_argument("--agreement", type=float, default=0.999,
                       help="classifiers: argmax agreement of float Euler with dopri5 that picks dt (default 0.999)")
        p.add_argument("--dt", type=float, help="use this step size instead of choosing one")
        p.add_argument("--dt-candidates", help="comma-separated step sizes to try (default "
                       + ",".join(f"{d:g}" for d in DT_CANDIDATES) + ")")
        p.add_argument("--read-width", type=int, help="read word bits (default: from the accuracy)")
        p.add_argument("--param-width", type=int, help="parameter word bits (default: from the accuracy)")
        p.add_argument("--integrator-width", type=int, default=32, help="integrator word bits (default 32)")
        p.add_argument("--margin", type=float, default=1.5, help="range margin over the observed max |v| (default 1.5)")
        p.add_argument("--reverse", action="store_true",
                       help="size the twin for integrating from the last window back to the first (flow models: "
                            "data -> noise), as `kgen run --view fixed --reverse` runs it; default: forward, the "
                            "direction every view runs by default (flow models: noise -> data)")
        p.add_argument("--allow-unstable", action="store_true",
                       help="accept a --dt above forward Euler's stability bound 2/rho")
        p.add_argument("--plain-read", action="store_true", help="no read feedback (plain rounded read copy)")
        p.add_argument("--param-format", action="append", default=[], metavar="KIND.PIECE=FORMAT",
                       help="fix a parameter format, e.g. ShiftTanh2.w_src=s2.16 (repeatable; pieces: scale, w_src, "
                            "w_des, bias)")
        p.add_argument("--allow-saturation", action="store_true",
                       help="parameters outside their formats saturate instead of failing")
        p.add_argument("--ref-samples", type=int, default=256, help="inputs integrated with dopri5 (default 256)")
        p.add_argument("--eval-samples", type=int, default=256,
                       help="inputs for the fixed-point searches (default 256)")
        p.add_argument("--table-samples", type=int, default=64, help="inputs per accuracy-table cell (default 64)")
        p.add_argument("--no-table", action="store_true", help="skip the accuracy table over widths and dt")
        p.add_argument("--threads", type=int, help="threads of the bit-exact model (default: up to 2)")
        p.add_argument("--lanes", type=int, help="HDL twin: edge lanes L to store (default: balanced against the "
                                                  "node count, at most 16)")
        p.add_argument("--units", type=int, help="HDL twin: update units U to store (default 1)")

    def quantize(self, model, data=None, **options) -> Quantized:
        return quantize_model(model, data, **options)

    def main(self, a: argparse.Namespace) -> None:
        from kgen.arrays import read_inputs
        from kgen.fsutil import check_replaceable, refuse_own_inputs, write_output_directory
        from kgen.modelfile import load_model

        from .quantize import DT_CANDIDATES
        from .report import write_report

        for label, v in (("--samples", a.samples), ("--ref-samples", a.ref_samples),
                         ("--eval-samples", a.eval_samples), ("--table-samples", a.table_samples)):
            if v < 1:
                raise InputError(expected_found(label, "a positive count", str(v)))
        cands = _counts(a.dt_candidates, "--dt-candidates") or DT_CANDIDATES
        report = Path(a.report) if a.report else Path(str(a.output) + ".report")
        refuse_own_inputs([("-o", a.output), ("--report", report)], [("MODEL", a.model), ("--data", a.data)])
        check_replaceable(report, a.force)  # before the work: nothing is lost, nothing is half done
        model = load_model(a.model)
        data = read_inputs(a.data, model.circuit.n_data) if a.data else None
        done = quantize_model(
            model, data, a.samples, a.seed, target=a.accuracy, euler_tol=a.euler_tol, agreement=a.agreement,
            dt=a.dt, dt_candidates=cands, read_width=a.read_width, integrator_width=a.integrator_width,
            param_width=a.param_width, margin=a.margin, reverse=a.reverse, allow_unstable=a.allow_unstable, ref_samples=a.ref_samples,
            eval_samples=a.eval_samples, table_samples=a.table_samples, table=not a.no_table,
            read_feedback=not a.plain_read, allow_saturation=a.allow_saturation, param_formats=tuple(a.param_format),
            threads=a.threads, lanes=a.lanes, units=a.units)
        res, out = done.result, done.model
        write_output_directory(report, {"kgen": "quantize report", "digest": out.digest},
                               lambda stage: write_report(res, stage, out.name), a.force)
        out.save(a.output)
        f, cfg = res.final, res.config
        print(f"quantized {out.name}: dt {res.step.dt:g} ({sum(cfg.steps)} Euler steps), read {cfg.read}, "
              f"integrator {cfg.integrator}, parameters {cfg.param_width} bits, HDL L={res.hdl.lanes} "
              f"U={res.hdl.units} -> {a.output}")
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
            print("  warning: saturated parameters: "
                  + ", ".join(f"{k}: {v}" for k, v in res.program.param_saturations))
        if res.calibration_saturations or res.calibration_overflows:
            print(f"  warning: {res.saturation_summary}")
        if not res.step.met:
            print(f"  note: {res.step.note}")
        if not f.max <= a.accuracy:
            print(f"  note: the accuracy {a.accuracy:g} is not met (max {f.max:.3g}); wider words (--read-width, "
                  f"--param-width, --integrator-width) or calibration data like the real inputs (--data) may help")
        print(f"  report: {report}/report.md")


QUANTIZE = QuantizeCommand()

"""The quantize report: Markdown tables, a JSON twin, range histograms and the error-vs-width plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kgen.figures import save_figure

from .quantize import QuantizeResult


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not np.isfinite(v):
        return "inf"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def markdown(res: QuantizeResult, model_name: str) -> str:
    cfg, step, prog = res.config, res.step, res.program
    lines = [f"# Fixed-point report: {model_name}", "",
             f"Circuit digest `{prog.digest}`; {res.n_samples} calibration inputs, "
             f"{'reverse (noise -> data)' if res.reverse else 'forward'} integration.", "",
             "## Choices", "",
             f"- dt {step.dt:g}: steps per window {', '.join(map(str, cfg.steps))} ({step.note}); "
             f"stability bound 2/rho = {step.dt_stable:.3g} (rho max {step.rho_max:.3g})",
             f"- state: max |v| {res.ranges.overall:.4g} (p99.9 {res.ranges.p999:.4g}) -> {res.int_bits} integer bits; "
             f"read {cfg.read.describe()}{' noise-shaped' if cfg.read_feedback else ''}, "
             f"integrator {cfg.integrator.describe()}",
             f"- parameters {cfg.param_width} bits; accumulator {prog.acc}; widest intermediate "
             f"{max(b for _, b in prog.widths())} bits", ""]
    if prog.tanh is not None:
        lines.append(f"- tanh: {prog.tanh.spec.segments}-segment table, max error {prog.tanh.max_error_with_rounding:.3g}"
                     f"; x max fan-in x T = {res.tanh_share:.3g} of the target")
        lines.append("")
    lines += ["## Step size (float Euler against dopri5, at the window boundaries)", "",
              "Candidates are tried from the coarsest; the first that meets the criterion ends the search.", "",
              "| dt | steps | mean | p99 | max | sample displacement | argmax agreement | dt <= 2/rho |",
              "|---|---|---|---|---|---|---|---|"]
    for r in step.rows:
        agree = "-" if r.agreement is None else f"{100 * r.agreement:.2f} %"
        lines.append(f"| {r.dt:g} | {','.join(map(str, r.steps))} | {r.euler_mean:.3g} | {r.euler_p99:.3g} | "
                     f"{r.euler_max:.3g} | {r.displacement:.3g} | {agree} | {'yes' if r.stable else 'no'} |")
    lines.append("")
    if res.table:
        widths = sorted({c.read_width for c in res.table})
        lines += ["## Accuracy: max |fixed - float Euler| over the table inputs and window boundaries", "",
                  "| dt \\ read bits | " + " | ".join(map(str, widths)) + " |",
                  "|---|" + "---|" * len(widths)]
        for dt in sorted({c.dt for c in res.table}, reverse=True):
            row = {c.read_width: c.measure for c in res.table if c.dt == dt}
            cells = [(_fmt(row[w].max) + ("" if row[w].ok else " (sat)" if not row[w].note else " (too wide)"))
                     if w in row else "-" for w in widths]
            lines.append(f"| {dt:g} | " + " | ".join(cells) + " |")
        lines.append("")
    for title, search in (("Parameter width search (read word wide)", res.param_search),
                          ("Read width search", res.read_search)):
        if search:
            lines += [f"## {title}", "", "| bits | max | p99 | saturations |", "|---|---|---|---|"]
            lines += [f"| {w} | {_fmt(m.max)} | {_fmt(m.p99)} | {m.saturations} |" for w, m in search]
            lines.append("")
    f = res.final
    lines += ["## The chosen configuration", "",
              f"- fixed vs float Euler (same dt, eval inputs): max {f.max:.3g}, p99 {f.p99:.3g}, mean {f.mean:.3g}"]
    if res.bound_max is not None:
        lines.append(f"- derived error bound (per-step local bound propagated along the float trajectory): "
                     f"max {res.bound_max:.3g}, p99 {res.bound_p99:.3g}; measured within the bound: "
                     f"{'yes' if res.within_bound else 'NO'}")
    lines.append(f"- saturations over the eval inputs: {res.calibration_saturations}, overflows "
                 f"{res.calibration_overflows}" + (f" ({res.saturation_summary})" if res.saturation_summary else ""))
    if res.displacement_fixed is not None:
        lines.append(f"- mean sample displacement against float dopri5: fixed {res.displacement_fixed:.3g}, "
                     f"float Euler {res.displacement_euler:.3g}")
    if res.agreement is not None:
        lines.append(f"- argmax agreement with float dopri5: {100 * res.agreement:.2f} %")
    lines += ["", "Figures: `ranges.png` (state and parameter histograms against the format windows), "
              "`error_vs_width.png` (error against read word width).", ""]
    return "\n".join(lines)


def plot_ranges(res: QuantizeResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("node voltages", res.ranges.sample, res.config.read)]
    panels += [(f"{kind}.{piece} ({fmt})", vals, None) for (kind, piece, fmt), vals in sorted(res.params.items())]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.2 * len(panels)), squeeze=False)
    prog = res.program
    for ax, (title, vals, fmt) in zip(axes[:, 0], panels):
        ax.hist(vals, bins=100, color="tab:blue", alpha=0.8)
        if fmt is None:
            kp = next(k for k in prog.kinds if title.startswith(k.kind + "."))
            fmt = kp.param_formats[kp.params.index(title.split(".")[1].split(" ")[0])]
        for edge in (float(fmt.min_value), float(fmt.max_value)):
            ax.axvline(edge, color="tab:red", linestyle="--")
        ax.set_title(f"{title}: format window [{float(fmt.min_value):.4g}, {float(fmt.max_value):.4g}]", fontsize=9)
        ax.set_yscale("log")
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def plot_error_vs_width(res: QuantizeResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for dt in sorted({c.dt for c in res.table}, reverse=True):
        cells = sorted((c for c in res.table if c.dt == dt and c.measure.note == ""), key=lambda c: c.read_width)
        if cells:
            ax.semilogy([c.read_width for c in cells], [max(c.measure.max, 1e-12) for c in cells], "o-",
                        label=f"dt {dt:g}")
    if res.read_search:
        pts = [(w, m.max) for w, m in res.read_search if np.isfinite(m.max)]
        ax.semilogy([w for w, _ in pts], [max(e, 1e-12) for _, e in pts], "ks--", label="read search (chosen dt)")
    ax.axhline(res.final.max if np.isfinite(res.final.max) else 1, color="tab:green", linestyle=":",
               label="chosen configuration")
    ax.set_xlabel("read word width (bits)")
    ax.set_ylabel("max |fixed - float Euler|")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def write_report(res: QuantizeResult, folder: Path, model_name: str) -> None:
    (folder / "report.md").write_text(markdown(res, model_name))
    doc = {"summary": res.summary(), "program": res.program.manifest(),
           "step_rows": [r.__dict__ | {"steps": list(r.steps)} for r in res.step.rows],
           "table": [{"dt": c.dt, "read_width": c.read_width, **c.measure.__dict__} for c in res.table]}
    (folder / "report.json").write_text(json.dumps(_clean(doc), indent=1, sort_keys=True) + "\n")
    plot_ranges(res, folder / "ranges.png")
    plot_error_vs_width(res, folder / "error_vs_width.png")


def _clean(o):
    """JSON-safe: NumPy scalars to Python, non-finite floats to None."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        o = o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o

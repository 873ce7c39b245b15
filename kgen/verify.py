"""`kgen verify MODEL --view V`: a view's trace against its reference's, through kgen.compare.

The reference is the float model solved with dopri5 in float64 at rtol = atol
= 1e-10, one solve per window (as the original), evaluated at exactly the
times the view recorded; or another view when the view names one (the RTL is
held to the bit-exact model, word for word). The comparison is `kgen diff`'s:
by step on one fixed grid, else by time. The report gives the error at every
window boundary, over everything compared, the first divergence and, for
classifiers, the argmax agreement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .circuit import ModelTask
from .compare import align, diff
from .errors import CheckFailed, InputError, expected_found
from .views import Record, View, run_view

#: `--tol` when the reference is the tight float model (the analog views' contract)
FLOAT_TOLERANCE = 1e-4


class VerifyMismatch(CheckFailed):
    """A view disagrees with its reference by more than the tolerance."""


@dataclass(frozen=True)
class VerifyReport:
    view: str
    circuit: str
    inputs: int
    max_abs_error: float
    mean_abs_error: float
    max_per_boundary: tuple[float, ...]
    boundaries: tuple[float, ...]
    argmax_agreement: float | None  # classifiers: fraction of inputs with the same predicted class
    tolerance: float | None  # None: the derived one (bit-exact words, or the fixed-point bound)
    tolerance_text: str
    reference: str
    simulator: str
    compared_steps: int
    passed: bool
    first_divergence: str | None = None
    details: dict = field(default_factory=dict)  # what the view measured besides its states (cycles, runs)
    energy: dict | None = None  # --vdd: forward time, charge and energy per input (kgen.energy.Energy)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Verification:
    """A report with the two traces it compared (for plots); the report's fields read through."""

    report: VerifyReport
    reference: object  # Trace
    trace: object  # Trace

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.report, name)


def default_tolerance(options) -> float:
    """The float reference's tolerance: the analog contract, or the error the view was asked to hold."""
    return getattr(options, "accuracy", None) or FLOAT_TOLERANCE


def verify_inputs(model, inputs=None, samples: int = 16, seed: int = 0) -> np.ndarray:
    """The data to verify on: the given array, else `samples` standard normal draws of the data's width."""
    from .layout import check_data

    if inputs is not None:
        return check_data(model.circuit, inputs)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InputError(expected_found("--samples", "a positive count", str(samples)))
    return np.random.default_rng(seed).standard_normal((samples, model.circuit.n_data))


def reference_of(model, view: View, x: np.ndarray, options, trace, record: Record):
    """(reference trace, its label, whether it is the tight float reference)."""
    from .float_view import REFERENCE_LABEL, reference_trace
    from .plugins import VIEWS

    wanted = view.reference_options(model, options)
    if view.reference == "float" and not wanted:
        return reference_trace(model, x, trace, getattr(options, "reverse", False)), REFERENCE_LABEL, True
    ref_view = VIEWS.get(view.reference)
    ref_options = ref_view.options(**wanted)
    text = ", ".join(f"{k} {v}" for k, v in wanted.items())
    return run_view(ref_view, model, x, ref_options, record), f"{ref_view.name} view ({text})", False


def _boundary_rows(model, times: np.ndarray) -> list[int]:
    """Rows of `times` that are window boundaries after the start, in the order they were reached."""
    c = model.circuit
    span = abs(c.t_final - c.windows[0].t_start)
    start = times[0]
    rows = []
    for b in c.times:
        if abs(b - start) <= 1e-12 * span:
            continue
        hit = np.flatnonzero(np.abs(times - b) <= 1e-12 * span)
        if hit.size:
            rows.append(int(hit[-1]))
    return sorted(rows)


def verify(model, view: View, x: np.ndarray, options, tolerance: float | None = None,
           record: Record = Record.BOUNDARIES) -> Verification:
    trace = run_view(view, model, x, options, record)
    ref, ref_label, tight = reference_of(model, view, x, options, trace, record)
    if tolerance is None and tight:
        tolerance = default_tolerance(options)
    res = diff(ref, trace, tolerance)
    al = align(ref, trace)
    with np.errstate(invalid="ignore"):
        err = np.where(al.compared, np.abs(al.va - al.vb), np.nan)
    if err.shape[0] > 1:
        err = err[1:]  # the start: loaded by every view from the same data
    if np.all(np.isnan(err)):
        raise InputError(expected_found(f"{view.name} results", "recorded node voltages", "none"))
    rows = _boundary_rows(model, ref.t[al.steps])
    per_boundary = tuple(float(np.nanmax(err[r - 1])) if np.isfinite(err[r - 1]).any() else float("nan")
                         for r in rows if r >= 1)
    argmax = None
    if model.circuit.task is ModelTask.CLASSIFIER:
        out = np.asarray(model.circuit.outputs) - 1
        argmax = float(np.mean(np.argmax(trace.v[-1][:, out], 1) == np.argmax(ref.v[-1][:, out], 1)))
    report = VerifyReport(
        view=view.name, circuit=model.name, inputs=int(x.shape[0]), max_abs_error=float(np.nanmax(err)),
        mean_abs_error=float(np.nanmean(err)), max_per_boundary=per_boundary,
        boundaries=tuple(float(ref.t[al.steps][r]) for r in rows), argmax_agreement=argmax,
        tolerance=tolerance, tolerance_text=res.tolerance, reference=ref_label,
        simulator=str(trace.extra.get("label", view.description)), compared_steps=res.compared_steps,
        passed=not res.diverged, first_divergence=res.summary() if res.diverged else None,
        details=dict(trace.extra.get("details", {})))
    return Verification(report, ref, trace)


def plot_overlay(path: str, model, view: str, ref, trace, max_nodes: int = 4):
    """Reference vs view trajectories of the first input for a few nodes (outputs first)."""
    from .figures import pyplot, save_figure

    plt = pyplot()
    c = model.circuit
    nodes = list(dict.fromkeys(list(c.outputs) + list(c.inputs)))[:max_nodes]
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, node in enumerate(nodes):
        color = f"C{k}"
        ax.plot(ref.t, ref.v[:, 0, node - 1], color=color, lw=2.5, alpha=0.4, label=f"n{node} reference")
        ax.plot(trace.t, trace.v[:, 0, node - 1], color=color, lw=1, ls="--", label=f"n{node} {view}")
    for t in c.times[1:-1]:
        ax.axvline(t, color="0.8", lw=0.8)
    ax.set_xlabel("time (model units)")
    ax.set_ylabel("node voltage")
    ax.set_title(f"{c.name}: reference vs {view}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, path)

"""Comparing two traces: `kgen diff`, and `kgen verify` (a view's trace against its reference's).

Both fixed-step on the same time grid: step by step. Otherwise B is
interpolated linearly in time onto A's times inside their common span (exact
where B has a point at that time: the reference of `kgen verify` is computed at
the view's own times). Two fixed-point traces with the same formats compare
their integer words exactly (atol 0). Otherwise the default tolerance is the
derived error bound the traces carry (`bound`, elementwise, summed when both
have one), else half an LSB of the coarser format, else 1e-9.

A node a trace never recorded after the start (a simulator that saved only
the outputs) is left out of the comparison; any other NaN is a divergence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError, expected_found

from .trace import FLAG_NAMES, Trace

DEFAULT_FLOAT_ATOL = 1e-9


@dataclass(frozen=True)
class DiffResult:
    compared_steps: int
    mode: str  # "bit-exact", "step", "time"
    tolerance: str  # how atol was chosen
    max_abs: float  # over everything compared
    first_step: int | None = None  # index into A's steps
    time: float | None = None
    node: int | None = None  # 1-based
    sample: int | None = None
    a_value: float | None = None
    b_value: float | None = None
    atol: float | None = None
    cause: str = ""

    @property
    def diverged(self) -> bool:
        return self.first_step is not None

    def summary(self) -> str:
        if not self.diverged:
            return (f"traces agree: {self.compared_steps} steps compared ({self.mode}, {self.tolerance}), "
                    f"max |difference| {self.max_abs:.3g}")
        return (f"first divergence at step {self.first_step} (t = {self.time:.6g}), node {self.node}, "
                f"sample {self.sample}: A {self.a_value:.9g} vs B {self.b_value:.9g} "
                f"(|difference| {abs(self.a_value - self.b_value):.3g} > atol {self.atol:.3g}); cause: {self.cause}")


def _same_formats(a: Trace, b: Trace) -> bool:
    return (a.is_fixed_point and b.is_fixed_point and np.array_equal(a.fmt_frac_bits, b.fmt_frac_bits)
            and np.array_equal(a.fmt_int_bits, b.fmt_int_bits) and np.array_equal(a.fmt_signed, b.fmt_signed))


def _interpolate(b: Trace, t: np.ndarray, field: np.ndarray) -> np.ndarray:
    """field (S_b, B, N) of trace b at times t (linear; t inside b's span; exact at b's own times)."""
    order = np.argsort(b.t, kind="stable")
    tb, fb = b.t[order], field[order]
    idx = np.clip(np.searchsorted(tb, t, side="right") - 1, 0, len(tb) - 2)
    t0, t1 = tb[idx], tb[idx + 1]
    w = np.where(t1 > t0, (t - t0) / np.where(t1 > t0, t1 - t0, 1.0), 0.0)[:, None, None]
    with np.errstate(invalid="ignore"):
        mixed = fb[idx] * (1 - w) + fb[idx + 1] * w
    return np.where(w == 0, fb[idx], np.where(w == 1, fb[idx + 1], mixed))


def _half_lsb(tr: Trace) -> np.ndarray | None:
    if tr.fmt_frac_bits is None:
        return None
    return np.ldexp(0.5, -tr.fmt_frac_bits.astype(np.int64))  # (N,)


@dataclass(frozen=True, eq=False)
class Alignment:
    """Two traces on A's compared steps: by step (same fixed grid) or by time (B interpolated)."""

    mode: str  # "step" or "time"
    steps: np.ndarray  # indices into A's steps
    va: np.ndarray  # (K, B, N)
    vb: np.ndarray
    fb: np.ndarray  # B's flags on A's steps (zeros when interpolated)
    bound_b: np.ndarray | None
    recorded: np.ndarray  # (B, N) bool: recorded after the start by both traces
    rows: np.ndarray  # (K,) bool: steps both traces observed (a board sees only its outputs at the end)

    @property
    def compared(self) -> np.ndarray:
        """(K, B, N) bool: the values both traces observed."""
        return self.recorded[None] & self.rows[:, None, None]


def observed_rows(tr: Trace) -> np.ndarray:
    """(S,) bool: the steps a trace observed; a view that sees fewer names them in extra["observed_steps"]."""
    rows = np.ones(tr.n_steps, bool)
    if "observed_steps" in tr.extra:
        rows[:] = False
        rows[np.asarray(tr.extra["observed_steps"], np.int64)] = True
    return rows


def _recorded(tr: Trace) -> np.ndarray:
    if tr.n_steps < 2:
        return np.ones(tr.v.shape[1:], bool)
    return ~np.all(np.isnan(tr.v[1:]), axis=0)


def align(a: Trace, b: Trace) -> Alignment:
    if a.v.shape[1:] != b.v.shape[1:]:
        raise InputError(expected_found("traces to compare", f"the same (batch, nodes) {a.v.shape[1:]}",
                                        f"{b.v.shape[1:]}"))
    if a.digest and b.digest and a.digest != b.digest:
        raise InputError(expected_found("traces to compare", f"runs of one circuit ({a.digest[:12]})",
                                        f"circuit {b.digest[:12]}"))
    recorded = _recorded(a) & _recorded(b)
    same_grid = (a.fixed_step and b.fixed_step and a.n_steps == b.n_steps and np.allclose(a.t, b.t, rtol=0,
                                                                                             atol=1e-12))
    if same_grid:
        return Alignment("step", np.arange(a.n_steps), a.v, b.v, b.flags, b.bound, recorded,
                         observed_rows(a) & observed_rows(b))
    lo, hi = max(a.t.min(), b.t.min()), min(a.t.max(), b.t.max())
    steps = np.flatnonzero((a.t >= lo - 1e-12) & (a.t <= hi + 1e-12))
    if steps.size == 0 or b.n_steps < 2:
        raise InputError(expected_found("traces to compare", "overlapping time spans",
                                        f"A [{a.t.min():g}, {a.t.max():g}], B [{b.t.min():g}, {b.t.max():g}]"))
    if "observed_steps" in b.extra:
        raise InputError(expected_found("traces to compare", f"{b.source} on the steps of {a.source}",
                                        "a trace observed at some steps only, on another time grid"))
    return Alignment("time", steps, a.v[steps], _interpolate(b, a.t[steps], b.v), np.zeros_like(a.flags[steps]),
                     None if b.bound is None else _interpolate(b, a.t[steps], b.bound), recorded,
                     observed_rows(a)[steps])


def diff(a: Trace, b: Trace, atol: float | None = None) -> DiffResult:
    al = align(a, b)
    steps, va, vb, fb, bound_b, mode = al.steps, al.va, al.vb, al.fb, al.bound_b, al.mode
    bits = mode == "step" and _same_formats(a, b) and atol is None
    if bits:
        mode = "bit-exact"
        delta = np.abs(a.raw.astype(np.float64) - b.raw.astype(np.float64))
        tol = np.zeros_like(delta)
        tol_text = "integer words, atol 0"
    else:
        with np.errstate(invalid="ignore"):
            delta = np.abs(va - vb)
        if atol is not None:
            tol = np.full(delta.shape, float(atol))
            tol_text = f"atol {atol:g}"
        elif a.bound is not None or bound_b is not None:
            tol = np.zeros(delta.shape)
            for bd in (a.bound[steps] if a.bound is not None else None, bound_b):
                if bd is not None:
                    tol = tol + bd
            tol_text = "atol = the derived error bound"
        else:
            halves = [h for h in (_half_lsb(a), _half_lsb(b)) if h is not None]
            if halves:
                tol = np.broadcast_to(np.maximum.reduce(halves)[None, None, :], delta.shape)
                tol_text = "atol = half an LSB"
            else:
                tol = np.full(delta.shape, DEFAULT_FLOAT_ATOL)
                tol_text = f"atol {DEFAULT_FLOAT_ATOL:g}"
    compared = np.broadcast_to(al.compared, delta.shape)
    nan = compared & ~np.isfinite(delta)
    over = compared & ((delta > tol) | nan)
    finite = compared & np.isfinite(delta)
    max_abs = float(np.max(np.abs(va - vb)[finite])) if finite.any() else 0.0
    if not over.any():
        return DiffResult(len(steps), mode, tol_text, max_abs)
    k = int(np.flatnonzero(over.any(axis=(1, 2)))[0])
    excess = np.where(over[k], np.where(nan[k], np.inf, delta[k] - tol[k]), -np.inf)
    sample, node = np.unravel_index(int(np.argmax(excess)), excess.shape)
    s = int(steps[k])
    if nan[k, sample, node]:
        which = "A" if not np.isfinite(va[k, sample, node]) else "B"
        cause = f"{which} is not a finite number there"
    else:
        cause = _cause(a, b, fb, over, delta, k, s, int(sample), int(node), bits, mode, tol_text)
    return DiffResult(len(steps), mode, tol_text, max_abs, s, float(a.t[s]), int(node) + 1, int(sample),
                      float(va[k, sample, node]), float(vb[k, sample, node]), float(tol[k, sample, node]), cause)


def _flag_text(flags: int) -> str:
    return ", ".join(name for bit, name in FLAG_NAMES.items() if flags & bit)


def _cause(a: Trace, b: Trace, fb: np.ndarray, over, delta, k: int, s: int, sample: int, node: int, bits: bool,
           mode: str, tol_text: str) -> str:
    fa = a.flags[: s + 1, sample, node]
    fbb = fb[: k + 1, sample, node]
    for label, flags in (("A", fa), ("B", fbb)):
        hit = np.flatnonzero(flags)
        if hit.size:
            return f"{_flag_text(int(flags[hit[0]]))} in {label} at step {int(hit[0])} of node {node + 1}"
    others = [f"{label}: {_flag_text(int(np.bitwise_or.reduce(f[: k + 1].ravel())))}"
              for label, f in (("A", a.flags[: s + 1]), ("B", fb)) if f[: k + 1].any()]
    if others:
        return "saturation elsewhere before this step (" + "; ".join(others) + ")"
    if a.is_fixed_point and b.is_fixed_point and not _same_formats(a, b):
        return f"the formats differ (A {a.format_of(node)}, B {b.format_of(node)})"
    if bits:
        lsbs = int(delta[k, sample, node])
        if k == 0:
            return f"the loaded inputs differ by {lsbs} LSB"
        if not over[k - 1].any():
            diverging = np.flatnonzero(over[k].any(axis=0)) + 1
            return (f"every state agreed at step {s - 1}; step {s} updated node(s) "
                    f"{', '.join(map(str, diverging[:8]))} differently ({lsbs} LSB at node {node + 1}): "
                    "an edge current, the KCL sum or the update differs")
        return f"{lsbs} LSB apart"
    kind = "derived error bound" if "bound" in tol_text else "tolerance"
    where = "interpolated in time, " if mode == "time" else ""
    text = f"{where}the difference exceeds the {kind}"
    if "bound" in tol_text and a.method != b.method:
        text += (f" (the bound covers the fixed-point error against float Euler at the same step; "
                 f"A ran {a.method}, B {b.method}, so B's discretisation error is not in it)")
    return text

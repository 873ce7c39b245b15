"""Calibration: float references, the step size and the integer bits.

* dopri5 (Dormand-Prince 5(4), scipy's RK45, float64, tolerance 1e-7) at every
  window boundary is the reference for the step size;
* float Euler at each candidate dt against it gives the discretisation error
  (per input: the max over nodes and window boundaries; the mean over inputs
  is compared with the tolerance, p99 and max are reported);
* the Jacobian's spectral radius along the trajectories gives the stability
  bound dt <= 2 / rho (exact eigenvalues for small circuits, Gershgorin above);
* the observed |v| over every step of the calibration trajectories, times a
  margin, gives the integer bits of the state formats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kgen.errors import InputError, expected_found

from kgen.circuit import Circuit

from .floatref import FloatEuler
from .lower import steps_for


def boundary_steps(steps: tuple[int, ...], reverse: bool) -> np.ndarray:
    order = steps[::-1] if reverse else steps
    return np.concatenate([[0], np.cumsum(order)]).astype(np.int64)


def dopri5_boundaries(circuit: Circuit, x: np.ndarray, reverse: bool, tol: float = 1e-7,
                      inner: int = 0) -> np.ndarray | tuple[np.ndarray, list]:
    """(W + 1, N, B) float64 states at the window boundaries, in execution order: Dormand-Prince 5(4)
    (scipy's RK45, the dopri5 pair) on the whole batch as one system, one solve per window, with the
    same NumPy right-hand side as the float Euler reference. With inner > 0 also returns
    [(window, state (N, B))] at `inner` interior times of every window."""
    from scipy.integrate import solve_ivp

    fe = FloatEuler(circuit)
    v = fe.initial_state(np.asarray(x, dtype=np.float64))
    shape = v.shape
    out, interior = [v], []
    order = range(len(circuit.windows) - 1, -1, -1) if reverse else range(len(circuit.windows))
    for w in order:
        win = circuit.windows[w]
        span = (win.t_end, win.t_start) if reverse else (win.t_start, win.t_end)
        t_eval = np.linspace(span[0], span[1], inner + 2) if inner else None
        sol = solve_ivp(lambda t, y, w=w: fe.rhs(w, y.reshape(shape)).ravel(), span, v.ravel(), method="RK45",
                        rtol=tol, atol=tol, t_eval=t_eval)
        if not sol.success:
            raise RuntimeError(f"dopri5 reference failed in window {w}: {sol.message}")
        v = sol.y[:, -1].reshape(shape)
        interior += [(w, sol.y[:, k].reshape(shape)) for k in range(sol.y.shape[1] - 1)] if inner else []
        out.append(v)
    return (np.stack(out), interior) if inner else np.stack(out)


def sample_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per input: max over (steps, nodes) of |a - b|, arrays (S, N, B)."""
    return np.abs(a - b).max(axis=(0, 1))


@dataclass(frozen=True)
class DtRow:
    dt: float
    steps: tuple[int, ...]
    euler_mean: float  # mean over inputs of the per-input max error vs dopri5
    euler_p99: float
    euler_max: float
    displacement: float  # mean L2 distance of the final states (samples) from dopri5's
    stable: bool
    agreement: float | None = None  # classifiers: argmax agreement with dopri5


@dataclass(frozen=True)
class StepChoice:
    rows: tuple[DtRow, ...]
    dt: float
    steps: tuple[int, ...]
    rho_max: float  # largest spectral radius seen along the trajectories
    dt_stable: float  # 2 / rho_max
    met: bool  # whether the chosen dt meets the tolerance
    note: str


def spectral_radius_max(fe: FloatEuler, states) -> float:
    """Largest Jacobian spectral radius over [(window, state (N, B))]."""
    return max(float(np.max(fe.spectral_radius(w, v))) for w, v in states)


def choose_step(circuit: Circuit, x_ref: np.ndarray, ref: np.ndarray, interior, reverse: bool, candidates,
                tol: float, forced: float | None = None, agree: float | None = None,
                allow_unstable: bool = False) -> StepChoice:
    """The largest stable candidate meeting the criterion, trying candidates from the coarsest.

    Criterion: mean over inputs of the per-input max |Euler - dopri5| over window boundaries <= tol, or,
    with `agree` (classifiers), argmax agreement of the outputs >= agree.
    """
    fe = FloatEuler(circuit)
    rho = spectral_radius_max(fe, interior)
    dt_stable = 2.0 / rho if rho > 0 else math.inf
    if forced is not None and forced > dt_stable and not allow_unstable:
        raise InputError(expected_found("--dt", f"at most the stability bound 2/rho = {dt_stable:.3g} of forward "
                                        "Euler on these inputs (or --allow-unstable)", f"{forced:g}"))
    out_idx = np.asarray(circuit.outputs) - 1
    rows = []

    def meets(r: DtRow) -> bool:
        return r.stable and (r.agreement >= agree if agree is not None else r.euler_mean <= tol)

    for dt in sorted(set(candidates) | ({forced} if forced else set()), reverse=True):
        if forced is not None and dt != forced:
            continue
        steps = steps_for(circuit, dt)
        _, u = fe.run(x_ref, steps, reverse, marks=boundary_steps(steps, reverse))
        err = sample_errors(u, ref)
        disp = float(np.mean(np.sqrt(((u[-1] - ref[-1]) ** 2).sum(0))))
        agreement = float(np.mean(u[-1][out_idx].argmax(0) == ref[-1][out_idx].argmax(0))) if agree else None
        rows.append(DtRow(dt, steps, float(err.mean()), float(np.quantile(err, 0.99)), float(err.max()), disp,
                          dt <= dt_stable, agreement))
        if meets(rows[-1]):
            break
    what = f"argmax agreement >= {agree:g}" if agree is not None else f"mean Euler error <= {tol:g}"
    if forced is not None:
        return StepChoice(tuple(rows), forced, rows[0].steps, rho, dt_stable, meets(rows[0]), "dt given")
    if meets(rows[-1]):
        return StepChoice(tuple(rows), rows[-1].dt, rows[-1].steps, rho, dt_stable, True,
                          f"the largest candidate with {what} and dt <= 2/rho")
    stable = [r for r in rows if r.stable] or rows
    row = min(stable, key=lambda r: r.dt)
    return StepChoice(tuple(rows), row.dt, row.steps, rho, dt_stable, False,
                      f"no candidate reaches {what}; the finest stable one is used")


@dataclass(frozen=True)
class Ranges:
    node_max: np.ndarray  # (N,) max |v| over inputs and every step
    overall: float
    p999: float
    sample: np.ndarray  # a subsample of node voltages for the histogram


def observe_ranges(circuit: Circuit, x: np.ndarray, steps: tuple[int, ...], reverse: bool,
                   max_sample: int = 200_000) -> Ranges:
    fe = FloatEuler(circuit)
    node_max = np.zeros(circuit.n_nodes)
    per_step = x.shape[0] * circuit.n_nodes
    every = max(1, sum(steps) // max(1, max_sample // per_step))
    picked = []

    def visit(k, w, v):
        np.maximum(node_max, np.abs(v).max(1), out=node_max)
        if k % every == 0:
            picked.append(v.ravel()[:: max(1, per_step // max_sample)])

    fe.run(x, steps, reverse, on_step=visit)
    sample = np.concatenate(picked)
    return Ranges(node_max, float(node_max.max()), float(np.quantile(np.abs(sample), 0.999)), sample)


def integer_bits(vmax: float, margin: float) -> int:
    """Signed integer bits (sign included) whose range [-2^(I-1), 2^(I-1)) holds +-margin*vmax."""
    need = max(vmax * margin, 1e-12)
    return max(1, math.floor(math.log2(need)) + 2)

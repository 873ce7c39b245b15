"""The float view (the PyTorch reference, torchdiffeq) and the tight reference every comparison uses."""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass

import numpy as np

from .errors import InputError, expected_found
from .options import option, positive, reverse_option, steps_option
from .solver import ADAPTIVE, FIXED_STEP, REFERENCE, Solver
from .trace import Trace, float_trace
from .views import Record, View


class Precision(enum.Enum):
    FLOAT32 = "float32"
    FLOAT64 = "float64"


@dataclass(frozen=True)
class FloatOptions:
    title = "float view"
    method: str | None = option(None, help="ODE solver: dopri5, euler, rk4, ... (default: the model's)")
    rtol: float | None = option(None, help="relative tolerance of an adaptive solver (default: the model's)")
    atol: float | None = option(None, help="absolute tolerance of an adaptive solver (default: the model's)")
    dtype: Precision | None = option(None, help="float32 or float64 (default: the model's)")
    steps: int | tuple[int, ...] | None = steps_option()
    reverse: bool = reverse_option()

    def __post_init__(self):
        if self.method is not None and self.method not in FIXED_STEP + ADAPTIVE:
            raise InputError(expected_found("--method", "one of " + ", ".join(FIXED_STEP + ADAPTIVE),
                                            repr(self.method)))
        positive(self.rtol, "--rtol")
        positive(self.atol, "--atol")

    def solver(self, defaults: Solver) -> Solver:
        return defaults.override(method=self.method, rtol=self.rtol, atol=self.atol,
                                 dtype=self.dtype.value if self.dtype else None, steps=self.steps)


def _window_order(n_windows: int, reverse: bool):
    return range(n_windows - 1, -1, -1) if reverse else range(n_windows)


@contextlib.contextmanager
def torch_threads(n_edges: int):
    """Small circuits solve fastest on one thread (and do not fight simulators for the cores)."""
    import torch

    before = torch.get_num_threads()
    if n_edges < 20000:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def trajectory(model, x: np.ndarray, solver: Solver, reverse: bool, times_per_window=None):
    """(times, states (S, N, B), windows, fixed_step) of the float model from data x.

    `times_per_window[w]` (sorted in the integration direction, inside the window) are the times to
    record in window w besides its ends; None records every step of a fixed-step solver, else the
    window boundaries only."""
    import torch

    from .model import KirchhoffNet, odeint
    from .progress import bar

    c = model.circuit
    net = KirchhoffNet(c, solver.torch_dtype)
    fixed = solver.fixed_step and solver.steps is not None
    times, states, wins = [], [], []
    with torch.no_grad(), bar(len(c.windows), f"{solver.method} solve of {len(x)} inputs", "window") as shown:
        v = net.initial_state(torch.as_tensor(x, dtype=solver.torch_dtype))
        first = True
        for w in _window_order(len(c.windows), reverse):
            win = c.windows[w]
            a, b = (win.t_end, win.t_start) if reverse else (win.t_start, win.t_end)
            if times_per_window is not None:
                inner = [float(t) for t in times_per_window[w]]
                t = torch.tensor([a] + inner + [b], dtype=net.dtype)
            elif fixed:
                t = torch.linspace(a, b, solver.steps_in(w) + 1, dtype=net.dtype)
            else:
                t = torch.tensor([a, b], dtype=net.dtype)
            out = odeint(net.fields[w], v, t, solver, w)
            keep = slice(0 if first else 1, None)
            times.append(t.numpy()[keep])
            states.append(out.double().numpy()[keep])
            wins += [w] * (len(t) if first else len(t) - 1)
            v = out[-1]
            first = False
            shown.update(1)
    return np.concatenate(times), np.concatenate(states), np.asarray(wins), fixed


class FloatView(View):
    name = "float"
    description = "the PyTorch reference: torchdiffeq with the model's (or the given) solver settings"
    Options = FloatOptions

    def run(self, model, x, options: FloatOptions, record: Record = Record.BOUNDARIES) -> Trace:
        solver = options.solver(model.circuit.defaults)
        per = None
        if record is Record.STEPS and not (solver.fixed_step and solver.steps is not None):
            per = _even_times(model.circuit, options.reverse, 100)  # adaptive: 100 points per window
        elif record is Record.BOUNDARIES and solver.fixed_step and solver.steps is not None:
            per = {w: [] for w in range(len(model.circuit.windows))}
        t, states, wins, fixed = trajectory(model, x, solver, options.reverse, per)
        return float_trace(t, states, wins, solver.method, model.digest, fixed and per is None)


VIEW = FloatView()


def _even_times(circuit, reverse: bool, points: int) -> dict[int, list[float]]:
    out = {}
    for w, win in enumerate(circuit.windows):
        k = np.arange(1, points)
        t = win.t_start + (win.t_end - win.t_start) * k / points
        out[w] = list(t[::-1] if reverse else t)
    return out


def reference_trace(model, x: np.ndarray, like: Trace, reverse: bool = False) -> Trace:
    """The float reference (float64 dopri5, rtol = atol = 1e-10, one solve per window) at exactly
    the times of `like`, window by window as `like` records them."""
    c = model.circuit
    per: dict[int, list[float]] = {w: [] for w in range(len(c.windows))}
    for k in range(1, like.n_steps):
        w, t = int(like.window[k]), float(like.t[k])
        win = c.windows[w]
        if not (min(win.t_start, win.t_end) < t < max(win.t_start, win.t_end)):
            continue  # a window boundary: every solve ends there
        per[w].append(t)
    return reference_at(model, x, per, reverse)


def reference_at(model, x: np.ndarray, per: dict[int, list[float]], reverse: bool = False) -> Trace:
    """The float reference at the window boundaries and the times `per[w]` inside each window w."""
    with torch_threads(model.circuit.n_edges):
        t, states, wins, _ = trajectory(model, x, REFERENCE, reverse, per)
    return float_trace(t, states, wins, REFERENCE.method, model.digest, False)


REFERENCE_LABEL = "float64 dopri5, rtol = atol = 1e-10"

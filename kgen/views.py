"""Views: the interchangeable ways to run a circuit (float now; spice, veriloga, fixed, rtl later).

A view maps (circuit, inputs (B, n_in), options) to outputs (B, n_out) at the
final time. `kgen run --view NAME` looks the view up here, so new views plug in
without touching the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .circuit import Circuit
from .errors import UnsupportedError, expected_found


@dataclass(frozen=True)
class RunOptions:
    """Options every view receives; a view ignores what does not apply to it."""

    method: str | None = None
    rtol: float | None = None
    atol: float | None = None
    dtype: str | None = None
    extra: tuple[tuple[str, object], ...] = ()
    trace: str | None = None  # write a per-step trace (kgen.emulation.trace) to this .npz path

    def get(self, key: str, default=None):
        return dict(self.extra).get(key, default)


ViewFn = Callable[[Circuit, np.ndarray, RunOptions], np.ndarray]
_VIEWS: dict[str, ViewFn] = {}


def register_view(name: str):
    def deco(fn: ViewFn) -> ViewFn:
        _VIEWS[name] = fn
        return fn
    return deco


def _load_plugins() -> None:
    # Views outside the core register themselves on import; a missing optional
    # dependency only hides that view.
    import importlib

    for module in ("kgen.codegen.views", "kgen.emulation.views", "kgen.hdl.views"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name not in (module, module.rsplit(".", 1)[0]):
                raise


def view_names() -> list[str]:
    _load_plugins()
    return sorted(_VIEWS)


def get_view(name: str) -> ViewFn:
    _load_plugins()
    if name not in _VIEWS:
        raise UnsupportedError(expected_found("view", "one of " + ", ".join(sorted(_VIEWS)), repr(name)))
    return _VIEWS[name]


def float_options(circuit: Circuit, opts: RunOptions):
    from .model import SolverOptions

    d = circuit.defaults
    return SolverOptions(method=opts.method or d.method, rtol=opts.rtol or d.rtol, atol=opts.atol or d.atol,
                         dtype=opts.dtype or d.dtype, steps_per_window=opts.get("steps_per_window"))


@register_view("float")
def run_float(circuit: Circuit, inputs: np.ndarray, opts: RunOptions) -> np.ndarray:
    """The PyTorch reference: torchdiffeq with the model's (or the given) solver settings."""
    import torch

    from .model import KirchhoffNet

    solver = float_options(circuit, opts)
    reverse = bool(opts.get("reverse", False))
    if opts.trace:
        from .emulation.views import write_float_trace

        write_float_trace(circuit, inputs, solver, opts.trace, reverse)
    model = KirchhoffNet(circuit, solver.torch_dtype)
    with torch.no_grad():
        x = torch.as_tensor(inputs, dtype=solver.torch_dtype)
        v, _ = model.solve(model.initial_state(x), solver, reverse=reverse)
        return model.readout(v).double().numpy()

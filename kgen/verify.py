"""`kgen verify MODEL --view V`: a view's node voltages at every window boundary against the float reference.

The reference is the torch model solved with dopri5 in float64 at rtol = atol
= 1e-10, one solve per window (as the original). A view plugs in by
registering a verifier that returns its node voltages at the boundaries
(`register_verifier("spice")`); the analog views live in kgen.codegen.views,
later views (rtl, fixed) register the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .circuit import Circuit, ModelTask
from .errors import InputError, KgenError, UnsupportedError, expected_found


class VerifyMismatch(KgenError):
    """A view disagrees with the float reference by more than the tolerance."""


@dataclass(frozen=True)
class VerifyOptions:
    chained: bool = False  # analog views: one transient per window
    waveform: bool = False  # also return the first input's trajectory (for --plot)


@dataclass(frozen=True, eq=False)
class Boundaries:
    """A run's node voltages at the window boundaries t_0..t_W."""

    times: np.ndarray  # (W + 1,) model units
    states: np.ndarray  # (W + 1, B, N); NaN where a node was not recorded
    waveform: tuple[np.ndarray, np.ndarray] | None  # first input: (t (S,), v (S, N))
    label: str


VerifierFn = Callable[[Circuit, np.ndarray, VerifyOptions], Boundaries]
_VERIFIERS: dict[str, VerifierFn] = {}


def register_verifier(view: str):
    def deco(fn: VerifierFn) -> VerifierFn:
        _VERIFIERS[view] = fn
        return fn
    return deco


# A view whose verification needs its own flags (rtl: --sim, --lanes, --trace) registers a whole command.
_COMMANDS: dict[str, Callable] = {}


def register_verify_command(view: str):
    def deco(fn):
        _COMMANDS[view] = fn
        return fn
    return deco


def verifier_names() -> list[str]:
    from .views import view_names

    view_names()  # imports the view plugins, which register their verifiers
    return sorted(_VERIFIERS)


def get_verifier(view: str) -> VerifierFn:
    names = verifier_names()
    if view not in _VERIFIERS:
        raise UnsupportedError(expected_found("--view", "one of " + ", ".join(names), repr(view)))
    return _VERIFIERS[view]


@contextlib.contextmanager
def _torch_threads(n_edges: int):
    """Small circuits solve fastest on one thread (and do not fight the simulators for cores)."""
    import torch

    before = torch.get_num_threads()
    if n_edges < 20000:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def reference_boundaries(circuit: Circuit, inputs: np.ndarray, waveform: bool = False) -> Boundaries:
    """The float reference: dopri5, float64, rtol = atol = 1e-10, one solve per window."""
    import torch

    from .model import KirchhoffNet, SolverOptions

    opts = SolverOptions(method="dopri5", rtol=1e-10, atol=1e-10, dtype="float64")
    model = KirchhoffNet(circuit, torch.float64)
    with torch.no_grad(), _torch_threads(circuit.n_edges):
        v0 = model.initial_state(torch.as_tensor(inputs, dtype=torch.float64))
        _, marks = model.solve(v0, opts, record=True)
        states = np.stack([s.numpy().T for _, s in marks])
        wave = None
        if waveform:
            t, v = model.solve_dense(v0[:, :1], opts, points_per_window=200)
            wave = (t.numpy(), v[:, :, 0].numpy())
    return Boundaries(np.asarray(circuit.times), states, wave, "float64 dopri5, rtol = atol = 1e-10")


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
    tolerance: float
    reference: str
    simulator: str

    @property
    def passed(self) -> bool:
        return self.max_abs_error <= self.tolerance

    def as_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["passed"] = self.passed
        return d


def compare(circuit: Circuit, view: str, ref: Boundaries, sim: Boundaries, tolerance: float) -> VerifyReport:
    err = np.abs(sim.states[1:] - ref.states[1:])  # (W, B, N): every boundary after the start
    if np.all(np.isnan(err)):
        raise InputError(expected_found(f"{view} results", "recorded node voltages", "none"))
    argmax = None
    if circuit.task is ModelTask.CLASSIFIER:
        out = np.asarray(circuit.outputs) - 1
        argmax = float(np.mean(np.argmax(sim.states[-1][:, out], 1) == np.argmax(ref.states[-1][:, out], 1)))
    return VerifyReport(
        view=view, circuit=circuit.name, inputs=int(ref.states.shape[1]),
        max_abs_error=float(np.nanmax(err)), mean_abs_error=float(np.nanmean(err)),
        max_per_boundary=tuple(float(v) for v in np.nanmax(err, axis=(1, 2))),
        boundaries=tuple(float(t) for t in ref.times[1:]), argmax_agreement=argmax, tolerance=tolerance,
        reference=ref.label, simulator=sim.label)


def verify(circuit: Circuit, view: str, inputs: np.ndarray, tolerance: float = 1e-4,
           options: VerifyOptions = VerifyOptions()) -> tuple[VerifyReport, Boundaries, Boundaries]:
    run = get_verifier(view)
    sim = run(circuit, inputs, options)
    ref = reference_boundaries(circuit, inputs, waveform=options.waveform)
    return compare(circuit, view, ref, sim, tolerance), ref, sim


def plot_overlay(path: str, circuit: Circuit, view: str, ref: Boundaries, sim: Boundaries, max_nodes: int = 4):
    """Float vs simulator trajectories of the first input for a few nodes (outputs first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .fsutil import atomic_write_bytes

    nodes = list(dict.fromkeys(list(circuit.outputs) + list(circuit.inputs)))[:max_nodes]
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, node in enumerate(nodes):
        color = f"C{k}"
        ax.plot(ref.waveform[0], ref.waveform[1][:, node - 1], color=color, lw=2.5, alpha=0.4,
                label=f"n{node} float")
        ax.plot(sim.waveform[0], sim.waveform[1][:, node - 1], color=color, lw=1, ls="--", label=f"n{node} {view}")
    for t in circuit.times[1:-1]:
        ax.axvline(t, color="0.8", lw=0.8)
    ax.set_xlabel("time (model units)")
    ax.set_ylabel("node voltage")
    ax.set_title(f"{circuit.name}: float reference vs {view}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=path.rsplit(".", 1)[-1] if "." in path else "png", dpi=120,
                metadata={"Software": None} if path.endswith(".png") else None)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


# -- the CLI verb ---------------------------------------------------------------

DESCRIPTION = "compare a view's node voltages at every window boundary with the float reference"


def cmd_verify(argv: list[str], parser_class: type[argparse.ArgumentParser]) -> None:
    view = next((argv[i + 1] for i, v in enumerate(argv[:-1]) if v == "--view"),
                next((v.split("=", 1)[1] for v in argv if v.startswith("--view=")), None))
    if view is not None:
        verifier_names()  # imports the view plugins, which register their commands
        if view in _COMMANDS:
            return _COMMANDS[view](argv, parser_class)
    p = parser_class(prog="kgen verify", description=DESCRIPTION)
    p.add_argument("model", help="kgen model file or original checkpoint folder")
    p.add_argument("--view", required=True, help="spice (ngspice), veriloga (VACASK), or a later view")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--inputs", help="(batch, n_inputs) .npy inputs")
    src.add_argument("--samples", type=int, help="this many standard normal inputs (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of --samples (default 0)")
    p.add_argument("--tol", type=float, default=1e-4, help="maximum absolute error accepted (default 1e-4)")
    p.add_argument("--chained", action="store_true", help="analog views: one transient per window")
    p.add_argument("--plot", help="write an overlay of float vs view trajectories (first input) to this file")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    from .arrays import read_inputs
    from .original import load_any

    run = get_verifier(a.view)  # an unknown view fails before any work
    del run
    if a.samples is not None and a.samples < 1:
        raise InputError(expected_found("--samples", "a positive count", str(a.samples)))
    if not (a.tol > 0 and np.isfinite(a.tol)):
        raise InputError(expected_found("--tol", "a finite positive number", str(a.tol)))
    if a.plot and "." in a.plot and a.plot.rsplit(".", 1)[-1].lower() not in ("png", "pdf", "svg"):
        raise InputError(expected_found("--plot", "a .png, .pdf or .svg file name", repr(a.plot)))
    circuit = load_any(a.model)
    if a.inputs:
        x = read_inputs(a.inputs, len(circuit.inputs))
    else:
        x = np.random.default_rng(a.seed).standard_normal((a.samples or 16, len(circuit.inputs)))
    report, ref, sim = verify(circuit, a.view, x, a.tol, VerifyOptions(chained=a.chained, waveform=bool(a.plot)))
    if a.plot:
        plot_overlay(a.plot, circuit, a.view, ref, sim)
    if a.json:
        print(json.dumps(report.as_dict(), sort_keys=True))
    else:
        print(f"{report.circuit}: {a.view} vs float reference over {report.inputs} inputs "
              f"at {len(report.boundaries)} window boundaries")
        print(f"  view:      {report.simulator}")
        print(f"  reference: {report.reference}")
        print("  max |error| per boundary: " + ", ".join(
            f"t={t:g}: {e:.3g}" for t, e in zip(report.boundaries, report.max_per_boundary)))
        print(f"  max |error| {report.max_abs_error:.3g} V, mean |error| {report.mean_abs_error:.3g} V "
              f"(tolerance {report.tolerance:g})")
        if report.argmax_agreement is not None:
            print(f"  argmax agreement {report.argmax_agreement:.4f}")
        if a.plot:
            print(f"  plot: {a.plot}")
    if not report.passed:
        raise VerifyMismatch(expected_found(f"{a.view} vs float reference", f"max |error| <= {report.tolerance:g}",
                                            f"{report.max_abs_error:.3g}"))

"""Mismatch Monte Carlo of a view: `kgen verify MODEL --view V --mismatch SIGMA --trials N`.

Trial k perturbs the circuit with the one mismatch model (kgen.mismatch, trial
k = the same eps everywhere), runs the view on the perturbed circuit and holds
it to the float model *with the same perturbation* (the fidelity contract,
`kgen verify`'s comparison, trial by trial). Beside it, the spread the
mismatch causes: each trial's outputs against the nominal circuit's (the
float reference of the unperturbed model) per output node, and the task's
metric per trial: for classifiers the argmax agreement with the nominal
circuit (and the accuracy when labels are given), for flows and other models
the sample displacement, the mean distance of an output from its nominal one.

Trials fan out through kgen.executor (a local pool, or Dask with
`--scheduler`); each runs the view with one simulator process, so a trial's
result does not depend on where or beside what it ran. Finished trials are
kept in a cache keyed by the content hash of everything they depend on (kgen
version, circuit digest, view and its options, mismatch, trial, inputs,
tolerance): a killed run run again completes only the missing trials, and the
parent writes each result as it arrives, so a cluster needs no shared disk. A
trial that fails (a simulator error) is reported with its log and the others
are kept.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .circuit import ModelTask
from .errors import InputError, expected_found
from .mismatch import Mismatch

CACHE_SCHEMA = "kgen.montecarlo-trial/1"


def cache_root() -> Path:
    """Where finished trials are kept: $KGEN_CACHE_DIR, else $XDG_CACHE_HOME/kgen, else ~/.cache/kgen."""
    if os.environ.get("KGEN_CACHE_DIR"):
        return Path(os.environ["KGEN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kgen"


@dataclass(frozen=True)
class TrialResult:
    trial: int
    digest: str  # the perturbed circuit's
    outputs: np.ndarray  # (B, n_out) the view's outputs at the final time
    reference: np.ndarray  # (B, n_out) the float model's with the same perturbation
    max_abs_error: float  # the fidelity comparison over every compared state
    passed: bool
    first_divergence: str | None
    label: str  # how the view ran (simulator, runs, seconds): not part of the result's identity
    charge: np.ndarray | None = None  # (B,) with energy: the charge the edges move, model units
    reference_charge: np.ndarray | None = None  # (B,) the perturbed float model's

    def to_bytes(self, key: str) -> bytes:
        meta = {"schema": CACHE_SCHEMA, "key": key, "trial": self.trial, "digest": self.digest,
                "max_abs_error": self.max_abs_error, "passed": self.passed,
                "first_divergence": self.first_divergence}  # not the label: how it ran is not what it found
        arrays = {"outputs": self.outputs, "reference": self.reference}
        if self.charge is not None:
            arrays.update(charge=self.charge, reference_charge=self.reference_charge)
        buf = io.BytesIO()
        np.savez(buf, **arrays, meta=np.array(json.dumps(meta, sort_keys=True)))
        return buf.getvalue()

    @classmethod
    def from_file(cls, path: Path, key: str) -> TrialResult | None:
        """The cached result, or None when the file is missing, unreadable or someone else's."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("schema") != CACHE_SCHEMA or meta.get("key") != key:
                    return None
                return cls(int(meta["trial"]), meta["digest"], z["outputs"], z["reference"],
                           float(meta["max_abs_error"]), bool(meta["passed"]), meta["first_divergence"],
                           "from the cache", z["charge"] if "charge" in z.files else None,
                           z["reference_charge"] if "charge" in z.files else None)
        except (OSError, ValueError, KeyError, json.JSONDecodeError, EOFError):
            return None


@dataclass(frozen=True)
class TrialTask:
    """Everything one trial depends on (it travels to a worker process or a cluster)."""

    trial: int
    model: object  # the nominal Model
    view: str
    options: object  # the view's options
    mismatch: Mismatch
    x: np.ndarray
    tolerance: float | None
    energy: bool = False  # also the charge the edges move (every time point recorded)


def run_trial(task: TrialTask) -> TrialResult:
    """One Monte Carlo trial: the view on the perturbed circuit against the float model perturbed alike."""
    from .plugins import VIEWS
    from .verify import verify
    from .views import Record

    circuit = task.mismatch.apply(task.model.circuit, task.trial)
    model = task.model.replace(circuit=circuit, quant=None, hdl=None)
    record = Record.STEPS if task.energy else Record.BOUNDARIES
    res = verify(model, VIEWS.get(task.view), task.x, task.options, task.tolerance, record)
    r = res.report
    charge = reference_charge = None
    if task.energy:
        from .energy import edge_charge, float_charge

        charge = edge_charge(circuit, res.trace)
        reference_charge = float_charge(model, task.x, bool(getattr(task.options, "reverse", False)))
    return TrialResult(task.trial, circuit.digest, model.outputs(res.trace), model.outputs(res.reference),
                       r.max_abs_error, r.passed, r.first_divergence, r.simulator, charge, reference_charge)


def _plain(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def trial_key(task: TrialTask) -> str:
    from . import __version__

    options = {f.name: _plain(getattr(task.options, f.name)) for f in dataclasses.fields(task.options)}
    x = np.ascontiguousarray(task.x, dtype=np.float64)
    text = json.dumps({"kgen": __version__, "digest": task.model.circuit.digest, "view": task.view,
                       "options": options, "mismatch": task.mismatch.as_dict(), "trial": task.trial,
                       "inputs": hashlib.sha256(x.tobytes()).hexdigest(), "shape": list(x.shape),
                       "tolerance": task.tolerance, "energy": task.energy}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Spread:
    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, values) -> Spread:
        a = np.asarray(values, dtype=np.float64)
        return cls(float(a.mean()), float(a.std()), float(a.min()), float(a.max()))


@dataclass(frozen=True)
class MonteCarloReport:
    view: str
    circuit: str
    digest: str
    inputs: int
    trials: int
    mismatch: dict
    tolerance: float | None
    metric: str  # "accuracy", "argmax agreement" or "displacement"
    nominal_metric: float  # the metric of the nominal circuit (1.0 agreement, 0.0 displacement)
    metric_spread: Spread | None  # over the trials that ran
    fidelity: Spread | None  # per-trial max |view - float model with the same perturbation|
    passed_trials: int
    deviation: dict  # output node -> Spread of |output - nominal| over trials and inputs
    per_trial: list  # [{trial, digest, max_abs_error, passed, metric, max_deviation}]
    failures: list  # [{trial, error}]
    energy: dict | None = None  # --vdd: the mean energy per input over the trials, and per trial
    run: dict = field(default_factory=dict)  # executor, ran, cached, seconds: how, not what

    @property
    def passed(self) -> bool:
        return not self.failures and self.passed_trials == self.trials

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["passed"] = self.passed
        return out


def _metric(model, outputs: np.ndarray, nominal: np.ndarray, labels) -> tuple[str, float]:
    """(name, value) of the task metric of outputs (B, n_out) against the nominal outputs."""
    if model.circuit.task is ModelTask.CLASSIFIER:
        if labels is not None:
            return "accuracy", float(np.mean(np.argmax(outputs, 1) == labels))
        return "argmax agreement", float(np.mean(np.argmax(outputs, 1) == np.argmax(nominal, 1)))
    return "displacement", float(np.mean(np.linalg.norm(outputs - nominal, axis=1)))


def nominal_outputs(model, x: np.ndarray, reverse: bool = False) -> np.ndarray:
    """The unperturbed circuit's outputs: the float reference (dopri5, 1e-10) at the final time."""
    from .float_view import reference_at

    return model.outputs(reference_at(model, x, {w: [] for w in range(len(model.circuit.windows))}, reverse))


def check_labels(labels, batch: int, model) -> np.ndarray | None:
    if labels is None:
        return None
    if model.circuit.task is not ModelTask.CLASSIFIER:
        raise InputError(expected_found("--labels", "a classifier model", f"a {model.circuit.task.value} model"))
    y = np.asarray(labels)
    if y.shape != (batch,) or not np.issubdtype(y.dtype, np.integer):
        raise InputError(expected_found("--labels", f"({batch},) integer class labels",
                                        f"shape {y.shape} of {y.dtype}"))
    n_out = len(model.circuit.outputs)
    if y.size and (y.min() < 0 or y.max() >= n_out):
        raise InputError(expected_found("--labels", f"classes 0..{n_out - 1}", f"{y.min()}..{y.max()}"))
    return y.astype(np.int64)


def monte_carlo(model, view, x: np.ndarray, options, mismatch: Mismatch, trials: int,
                tolerance: float | None = None, labels=None, scheduler: str | None = None,
                jobs: int | None = None, cache: Path | None = None, vdd: float | None = None) -> MonteCarloReport:
    """Run `trials` mismatch trials of `view` on inputs x; see the module text."""
    from .executor import executor_for
    from .fsutil import atomic_write_bytes
    from .verify import default_tolerance

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise InputError(expected_found("--trials", "a positive count", str(trials)))
    if view.reference != "float":
        raise InputError(expected_found("--mismatch", "an analog or float view (spice, veriloga, float)",
                                        f"the {view.name} view (held to the {view.reference} view, not to the "
                                        "float model)"))
    labels = check_labels(labels, x.shape[0], model)
    if tolerance is None:
        tolerance = default_tolerance(options)
    if "workers" in {f.name for f in dataclasses.fields(options)} and options.workers is None:
        # one simulator process per trial: the executor owns the cores, and a trial's netlists do not
        # depend on how many cores its machine has
        options = dataclasses.replace(options, workers=1)
    start = time.perf_counter()
    if vdd is not None:
        from .energy import check_energy_request

        check_energy_request(vdd, options)
    tasks = [TrialTask(k, model, view.name, options, mismatch, x, tolerance, vdd is not None) for k in range(trials)]
    keys = [trial_key(t) for t in tasks]
    folder = (cache or cache_root()) / "montecarlo"
    results: dict[int, TrialResult] = {}
    for k, key in enumerate(keys):
        hit = TrialResult.from_file(folder / f"{key}.npz", key)
        if hit is not None:
            results[k] = hit
    cached = len(results)
    todo = [t for t in tasks if t.trial not in results]
    failures = []

    def keep(task: TrialTask, outcome) -> None:
        if outcome.ok:
            key = keys[task.trial]
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(folder / f"{key}.npz", outcome.value.to_bytes(key))
    executor_text = "cache only"
    if todo:
        with executor_for(scheduler, jobs, len(todo)) as ex:
            executor_text = ex.description
            outcomes = ex.map(run_trial, todo, f"monte carlo ({view.name})", "trial", on_result=keep)
        for task, outcome in zip(todo, outcomes):
            if outcome.ok:
                results[task.trial] = outcome.value
            else:
                failures.append({"trial": task.trial, "error": outcome.error})
    nominal = nominal_outputs(model, x, bool(getattr(options, "reverse", False)))
    metric_name, nominal_metric = _metric(model, nominal, nominal, labels)
    done = [results[k] for k in sorted(results)]
    per_trial, metrics = [], []
    for r in done:
        value = _metric(model, r.outputs, nominal, labels)[1]
        metrics.append(value)
        per_trial.append({"trial": r.trial, "digest": r.digest, "max_abs_error": r.max_abs_error,
                          "passed": r.passed, "first_divergence": r.first_divergence, metric_name: value,
                          "max_deviation": float(np.max(np.abs(r.outputs - nominal)))})
    deviation = {}
    if done:
        dev = np.abs(np.stack([r.outputs for r in done]) - nominal[None])  # (K, B, n_out)
        deviation = {str(node): dataclasses.asdict(Spread.of(dev[:, :, j]))
                     for j, node in enumerate(model.circuit.outputs)}
    run = {"executor": executor_text, "ran": len(todo), "cached": cached,
           "seconds": round(time.perf_counter() - start, 3), "cache": str(folder),
           "view": next((r.label for r in done if r.label != "from the cache"), "from the cache")}
    return MonteCarloReport(
        view=view.name, circuit=model.name, digest=model.digest, inputs=int(x.shape[0]), trials=trials,
        mismatch=mismatch.as_dict(), tolerance=tolerance, metric=metric_name, nominal_metric=nominal_metric,
        metric_spread=Spread.of(metrics) if metrics else None,
        fidelity=Spread.of([r.max_abs_error for r in done]) if done else None,
        passed_trials=sum(r.passed for r in done), deviation=deviation, per_trial=per_trial,
        failures=sorted(failures, key=lambda f: f["trial"]), run=run,
        energy=_energy_spread(done, vdd, options, model) if vdd is not None and done else None)


def _energy_spread(done: list, vdd: float, options, model) -> dict:
    """Per trial the mean energy per input (physical units under --cap/--tau) and the charge's agreement
    with the float model perturbed alike; over the trials their spread."""
    cap, tau = getattr(options, "cap", 1.0), getattr(options, "tau", 1.0)
    c = model.circuit
    per = [float(vdd * cap * np.mean(r.charge)) for r in done]
    rel = [float(np.max(np.abs(r.charge - r.reference_charge) / np.maximum(np.abs(r.reference_charge), 1e-300)))
           for r in done]
    return {"vdd": vdd, "cap": cap, "tau": tau, "forward_time": abs(c.t_final - c.windows[0].t_start) * tau,
            "mean_energy": dataclasses.asdict(Spread.of(per)), "per_trial_mean_energy": per,
            "max_relative_difference": max(rel), "lower_bound": True}


def eval_mismatch(circuit, task: str, mismatch: Mismatch, trials: int, n_samples: int = 20000, seed: int = 0,
                  images=None, labels=None) -> dict:
    """`kgen eval --mismatch`: the float model's task metric on the nominal circuit and on each of `trials`
    perturbed ones (trial k: the same circuit as `kgen verify --mismatch`'s trial k), on the same data."""
    from .evaluate import evaluate
    from .progress import bar

    nominal = evaluate(circuit, task, n_samples, seed, images, labels)
    values = []
    with bar(trials, f"eval {task} under mismatch", "trial") as shown:
        for k in range(trials):
            values.append(evaluate(mismatch.apply(circuit, k), task, n_samples, seed, images, labels).value)
            shown.update(1)
    higher_is_better = nominal.metric.startswith("top")  # accuracy; NLL and loss: lower is better
    a = np.asarray(values)
    return {"task": nominal.task, "metric": nominal.metric, "nominal": nominal.value, "n_samples": nominal.n_samples,
            "mismatch": mismatch.as_dict(), "trials": trials, "values": values, "mean": float(a.mean()),
            "std": float(a.std()), "worst": float(a.min() if higher_is_better else a.max())}


def plot_histogram(path: str, report: MonteCarloReport) -> None:
    """The metric's distribution over the trials beside each trial's fidelity error."""
    from .figures import pyplot, save_figure

    plt = pyplot()
    values = [t[report.metric] for t in report.per_trial]
    errors = [max(t["max_abs_error"], 1e-300) for t in report.per_trial]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.hist(values, bins=min(30, max(5, len(values) // 3)), color="C0", alpha=0.8)
    a.axvline(report.nominal_metric, color="k", ls="--", lw=1, label=f"nominal {report.nominal_metric:.4g}")
    a.set_xlabel(report.metric)
    a.set_ylabel("trials")
    a.set_title(f"{report.circuit}, {report.view}: sigma {report.mismatch['sigma']:g}, "
                f"{len(values)} trials x {report.inputs} inputs", fontsize=9)
    a.legend(fontsize=8)
    bins = np.logspace(np.log10(min(errors)) - 0.1, np.log10(max(max(errors), report.tolerance or 0)) + 0.1, 20)
    b.hist(errors, bins=bins, color="C1", alpha=0.8)
    if report.tolerance:
        b.axvline(report.tolerance, color="r", lw=1, label=f"tolerance {report.tolerance:g}")
        b.legend(fontsize=8)
    b.set_xscale("log")
    b.set_xlabel("max |view - float model, same perturbation|")
    b.set_title("fidelity per trial", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)

"""Scores of a model on its task: held-out NLL, density-matching loss, accuracy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .circuit import Circuit, ModelTask
from .datasets import POTENTIALS, TOY_SETS, potential, toy_samples
from .errors import InputError, UnsupportedError, expected_found
from .model import KirchhoffNet, log_standard_normal
from .solver import Solver

#: The evaluation protocol of the issue: tight float64 dopri5, whatever the config says.
EVAL_SOLVER = Solver(method="dopri5", rtol=1e-6, atol=1e-6, dtype="float64")


@dataclass(frozen=True)
class EvalResult:
    task: str
    metric: str
    value: float
    n_samples: int
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"task": self.task, "metric": self.metric, "value": self.value, "n_samples": self.n_samples,
                **self.extra}


def _batches(n: int, size: int):
    for a in range(0, n, size):
        yield slice(a, min(n, a + size))


def flow_nll(circuit: Circuit, data: np.ndarray, opts: Solver = EVAL_SOLVER, batch: int = 5000,
             progress=None) -> np.ndarray:
    """Per-sample NLL of data under a CNF trained data -> noise (integrated backwards in time).

    NLL = -log N(z; 0, I) + integral over [t0, T] of trace(df/dv) dt.
    """
    model = KirchhoffNet(circuit, opts.torch_dtype)
    out = []
    with torch.no_grad():
        for sl in _batches(len(data), batch):
            x = torch.as_tensor(data[sl])
            v = model.initial_state(x)
            z, dlogp = model.solve_with_logp(v, torch.zeros(v.shape[1], dtype=v.dtype), opts, reverse=True)
            # dlogp = integral from T down to t0 of -trace = +integral t0..T of trace
            out.append((-(log_standard_normal(z) - dlogp)).numpy())
            if progress:
                progress(sl.stop, len(data))
    return np.concatenate(out)


def density_loss(circuit: Circuit, name: str, z0: np.ndarray, opts: Solver = EVAL_SOLVER, batch: int = 5000,
                 progress=None) -> np.ndarray:
    """Per-sample E[-int trace dt + U(x_T)] for z0 ~ N(0, I) pushed forward."""
    model = KirchhoffNet(circuit, opts.torch_dtype)
    out = []
    with torch.no_grad():
        for sl in _batches(len(z0), batch):
            v = model.initial_state(torch.as_tensor(z0[sl]))
            x, dlogp = model.solve_with_logp(v, torch.zeros(v.shape[1], dtype=v.dtype), opts, reverse=False)
            out.append((dlogp + potential(name, model.readout(x))).numpy())
            if progress:
                progress(sl.stop, len(z0))
    return np.concatenate(out)


def classify(circuit: Circuit, images: np.ndarray, labels: np.ndarray, opts: Solver, batch: int = 256,
             progress=None) -> EvalResult:
    model = KirchhoffNet(circuit, opts.torch_dtype)
    correct1 = correct5 = 0
    ce = 0.0
    with torch.no_grad():
        for sl in _batches(len(images), batch):
            logits = model(torch.as_tensor(images[sl]), opts)
            y = torch.as_tensor(labels[sl])
            ce += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            top = logits.topk(min(5, logits.shape[1]), dim=1).indices
            correct1 += int((top[:, 0] == y).sum())
            correct5 += int((top == y[:, None]).any(1).sum())
            if progress:
                progress(sl.stop, len(images))
    n = len(images)
    return EvalResult("classifier", "top1", correct1 / n, n, {"top5": correct5 / n, "cross_entropy": ce / n})


def evaluate(circuit: Circuit, task: str, n_samples: int = 20000, seed: int = 0, images=None, labels=None,
             opts: Solver = EVAL_SOLVER, progress=None) -> EvalResult:
    if task in TOY_SETS:
        if circuit.task is not ModelTask.FLOW or len(circuit.inputs) != 2:
            raise InputError(expected_found(f"model for task {task}", "a 2-D flow model",
                                            f"a {circuit.task.value} model with {len(circuit.inputs)} inputs"))
        nll = flow_nll(circuit, toy_samples(task, n_samples, seed), opts, progress=progress)
        return EvalResult(task, "heldout_nll", float(nll.mean()), len(nll), {"std_error": float(nll.std() / np.sqrt(len(nll)))})
    if task in POTENTIALS:
        if circuit.task is not ModelTask.DENSITY or len(circuit.inputs) != 2:
            raise InputError(expected_found(f"model for task {task}", "a 2-D density model",
                                            f"a {circuit.task.value} model with {len(circuit.inputs)} inputs"))
        z0 = np.random.RandomState(seed).randn(n_samples, 2)
        loss = density_loss(circuit, task, z0, opts, progress=progress)
        return EvalResult(task, "heldout_loss", float(loss.mean()), len(loss), {"std_error": float(loss.std() / np.sqrt(len(loss)))})
    if task in ("mnist", "digits"):
        if circuit.task is not ModelTask.CLASSIFIER:
            raise InputError(expected_found(f"model for task {task}", "a classifier model",
                                            f"a {circuit.task.value} model with {len(circuit.inputs)} inputs"))
        if images is None:
            if task == "mnist":
                raise InputError(expected_found("task mnist", "--images and --labels IDX files", "none given"))
            from .datasets import digits
            _, _, images, labels = digits(seed)
        if images.shape[1] != len(circuit.inputs):
            raise InputError(expected_found("images", f"{len(circuit.inputs)} values per image",
                                            str(images.shape[1])))
        return classify(circuit, images, labels, opts, progress=progress)
    raise UnsupportedError(expected_found("task", "one of " + ", ".join(TOY_SETS + POTENTIALS + ("mnist", "digits")),
                                          repr(task)))

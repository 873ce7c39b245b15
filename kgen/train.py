"""Training KirchhoffNets in PyTorch, as the original does.

Parameters start Kaiming-normal with fan_in = the window's edge count (torch's
kaiming_normal_ on the (rows, E) parameter matrix). Classifiers minimise
cross-entropy on the output voltages; flows minimise NLL integrating data ->
noise in reverse time, with the closed-form trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .circuit import Circuit, ModelTask, Window
from .solver import Solver
from .devices import DEVICE_KINDS
from .model import KirchhoffNet, log_standard_normal
from .solver import Solver


def kaiming_params(kind: str, n_edges: int, rng: np.random.RandomState) -> np.ndarray:
    """(rows, E) normal with std sqrt(2 / E): kaiming_normal_'s fan_in is the edge count."""
    return rng.normal(0.0, math.sqrt(2.0 / n_edges), size=(DEVICE_KINDS[kind].n_rows, n_edges))


def build_circuit(kind: str, src: np.ndarray, des: np.ndarray, t_end: list[float], n_inputs: int,
                  outputs: tuple[int, ...], task: ModelTask, name: str, seed: int = 0,
                  defaults: Solver = Solver()) -> Circuit:
    """One topology shared by every window, freshly initialised parameters per window."""
    rng = np.random.RandomState(seed)
    n = int(max(src.max(), des.max()))
    e = src.size
    windows = tuple(Window(t_end[w], t_end[w + 1], np.arange(e), kaiming_params(kind, e, rng))
                    for w in range(len(t_end) - 1))
    return Circuit(n_nodes=n, capacitance=np.ones(n), src=src, des=des, kinds=(kind,),
                   edge_kind=np.zeros(e, np.int64), windows=windows, inputs=tuple(range(1, n_inputs + 1)),
                   outputs=outputs, task=task, name=name, defaults=defaults)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    lr: float = 5e-3
    batch_size: int = 64
    seed: int = 0
    solver: Solver = field(default_factory=lambda: Solver(method="rk4", steps=4,
                                                                       dtype="float32"))


Progress = Callable[[int, int, float], None]  # (epoch, epochs, loss)


def train_classifier(circuit: Circuit, x: np.ndarray, y: np.ndarray, cfg: TrainConfig,
                     progress: Progress | None = None) -> Circuit:
    torch.manual_seed(cfg.seed)
    model = KirchhoffNet(circuit, cfg.solver.torch_dtype, trainable=True)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    xt, yt = torch.as_tensor(x, dtype=cfg.solver.torch_dtype), torch.as_tensor(y)
    gen = torch.Generator().manual_seed(cfg.seed)
    for epoch in range(cfg.epochs):
        total = 0.0
        for idx in torch.randperm(len(xt), generator=gen).split(cfg.batch_size):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx], cfg.solver), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if progress:
            progress(epoch + 1, cfg.epochs, total / len(xt))
    return model.to_circuit()


def train_flow(circuit: Circuit, sample: Callable[[int, int], np.ndarray], cfg: TrainConfig, iterations: int,
               progress: Progress | None = None) -> Circuit:
    """Maximum likelihood: data -> noise in reverse time; sample(n, step) draws a fresh batch."""
    torch.manual_seed(cfg.seed)
    model = KirchhoffNet(circuit, cfg.solver.torch_dtype, trainable=True)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    for it in range(iterations):
        x = torch.as_tensor(sample(cfg.batch_size, it), dtype=cfg.solver.torch_dtype)
        v = model.initial_state(x)
        opt.zero_grad()
        z, dlogp = model.solve_with_logp(v, torch.zeros(v.shape[1], dtype=v.dtype), cfg.solver, reverse=True)
        loss = -(log_standard_normal(z) - dlogp).mean()
        loss.backward()
        opt.step()
        if progress:
            progress(it + 1, iterations, float(loss))
    return model.to_circuit()


def digits_circuit(seed: int = 0, hidden: int = 20) -> Circuit:
    """The digits classifier topology: mix_connect on the 8x8 image, `hidden` nodes, logits = last 10."""
    from .topology import mix_connect

    src, des = mix_connect(1, 8, 8, 3, hidden, [1, 1])
    n = int(max(src.max(), des.max()))
    return build_circuit("ShiftRelu1", src, des, [0.0, 1.0, 2.0], 64, tuple(range(n - 9, n + 1)),
                         ModelTask.CLASSIFIER, "digits", seed,
                         Solver(method="dopri5", rtol=1e-5, atol=1e-5, dtype="float32"))


def toy_flow_circuit(name: str, seed: int = 0) -> Circuit:
    """The original's 2-D flow: fully_connect(3, [25, 25]) ShiftTanh2 on windows [0, 0.5, 1]."""
    from .topology import fully_connect

    src, des = fully_connect(3, repeat=[25, 25])
    return build_circuit("ShiftTanh2", src, des, [0.0, 0.5, 1.0], 2, (1, 2), ModelTask.FLOW, name, seed,
                         Solver(method="dopri5", rtol=1e-4, atol=1e-4, dtype="float32"))

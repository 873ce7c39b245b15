"""One executor for every fan-out: a local process pool, or a Dask cluster when a scheduler is named.

    with executor_for(scheduler, workers) as ex:
        outcomes = ex.map(fn, tasks, "monte carlo", "trial")

`fn` is a module-level function (it travels to other processes by reference),
each task carries everything its result depends on (its index and seed
included), and `map` returns one `Outcome` per task in the tasks' order,
whichever worker finished first: so the results are the same from the local
pool, from a Dask LocalCluster and from a cluster of many machines. A task that
raises is an `Outcome` with the error's one line, and the other tasks go on.
Progress is one bar over the tasks.

Thread discipline: the pool owns the cores, so each task runs with one torch /
BLAS / OpenMP thread (set in every worker before it imports torch).
"""

from __future__ import annotations

import os
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import InputError, KgenError, ToolError, expected_found

#: how long a Dask scheduler has to answer before the address is reported unreachable
CONNECT_TIMEOUT_S = 5
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Outcome:
    """A task's result, or the one line saying why it failed (`error`; `value` is then None)."""

    value: object = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def one_thread() -> None:
    """Run this process's numerics on one thread (a worker of a pool that owns the cores)."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def call(fn: Callable, task) -> Outcome:
    """Run one task, turning a failure into its Outcome instead of losing the other tasks."""
    try:
        return Outcome(value=fn(task))
    except KgenError as exc:
        return Outcome(error=str(exc))
    except Exception as exc:  # a bug: keep where it happened, the run's other results are still good
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome(error=f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})")


def _result(future) -> Outcome:
    """A finished future's Outcome; a worker that died (killed, out of memory) fails only its task."""
    try:
        return future.result()
    except Exception as exc:
        return Outcome(error=f"the worker running it stopped ({type(exc).__name__}: {exc})")


def _call_in_worker(fn: Callable, task) -> Outcome:
    one_thread()
    return call(fn, task)


class Executor(ABC):
    """Runs tasks; `map` gives their outcomes in order."""

    description: str

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        pass

    def map(self, fn: Callable, tasks: Sequence, desc: str, unit: str = "task",
            on_result: Callable | None = None) -> list[Outcome]:
        """Outcomes in the tasks' order; `on_result(task, outcome)` runs here as each one arrives
        (to keep it before the others finish: a killed run loses only the tasks in flight)."""
        from .progress import bar

        tasks = list(tasks)
        if not tasks:
            return []
        with bar(len(tasks), desc, unit) as shown:
            def done(i: int, outcome: Outcome) -> None:
                if on_result is not None:
                    on_result(tasks[i], outcome)
                shown.update(1)
            return self._map(fn, tasks, done)

    @abstractmethod
    def _map(self, fn: Callable, tasks: list, done: Callable[[int, Outcome], None]) -> list[Outcome]:
        """Outcomes in the tasks' order; `done(index, outcome)` as each task finishes."""


class SerialExecutor(Executor):
    """In this process, one task after another (one worker, or a single task)."""

    description = "this process"

    def _map(self, fn, tasks, done):
        out = []
        for i, task in enumerate(tasks):
            out.append(call(fn, task))
            done(i, out[-1])
        return out


class LocalExecutor(Executor):
    """A pool of `workers` fresh Python processes (spawned: no forked torch or OpenMP state)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.description = f"local pool of {workers} processes"
        self._pool = None

    def _map(self, fn, tasks, done):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)),
                                             mp_context=multiprocessing.get_context("spawn"))
        futures = [self._pool.submit(_call_in_worker, fn, task) for task in tasks]
        index = {f: i for i, f in enumerate(futures)}
        for f in as_completed(futures):
            done(index[f], _result(f))
        return [_result(f) for f in futures]

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """The tasks on a Dask distributed cluster (a LocalCluster, or a scheduler dask-jobqueue started)."""

    def __init__(self, scheduler: str):
        try:
            from distributed import Client
        except ImportError:
            raise ToolError(expected_found("--scheduler", "the Dask distributed package",
                                           "none (install: pip install 'dask[distributed]')")) from None
        is_file = not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://", "ucx://"))
        if is_file and not Path(scheduler).is_file():
            raise InputError(expected_found("--scheduler", "tcp://HOST:PORT or a Dask scheduler file",
                                            repr(scheduler)))
        try:
            self._client = (Client(scheduler_file=scheduler, timeout=CONNECT_TIMEOUT_S) if is_file
                            else Client(scheduler, timeout=CONNECT_TIMEOUT_S))
        except (OSError, TimeoutError, ValueError) as exc:
            reason = f"no answer within {CONNECT_TIMEOUT_S} s" if isinstance(exc, (OSError, TimeoutError)) \
                else str(exc)
            raise ToolError(expected_found(f"--scheduler {scheduler}", "a reachable Dask scheduler",
                                           reason)) from None
        self.description = f"Dask scheduler {self._client.scheduler.address}"

    def _map(self, fn, tasks, done):
        from distributed import as_completed

        # pure=False: two equal tasks are still two runs; key order is the tasks' order
        futures = self._client.map(_call_in_worker, [fn] * len(tasks), tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for f in as_completed(futures):
            done(index[f.key], _result(f))
        return [_result(f) for f in futures]

    def close(self):
        self._client.close()


def executor_for(scheduler: str | None = None, workers: int | None = None, tasks: int | None = None) -> Executor:
    """Dask when a scheduler is named, else a local pool of `workers` (default: the cores), serial for one."""
    if scheduler:
        return DaskExecutor(scheduler)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(expected_found("--jobs", "a positive count", str(workers)))
    n = workers or os.cpu_count() or 1
    if tasks is not None:
        n = min(n, tasks)
    return SerialExecutor() if n <= 1 else LocalExecutor(n)

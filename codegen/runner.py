"""Running an analog target's netlists in its simulator and reading the trace back.

The spice and veriloga views and `--check` come through here. Inputs are
grouped into chunks, each one netlist of disjoint circuit copies written by
the target's own writer (`AnalogTarget.write_netlist`, the code path
`kgen --target T` exports through), and the chunks run in parallel over the
cores (one single-threaded simulator process each). A switched run simulates
all windows in one transient; a chained run one transient per window, each
starting from the previous window's final voltages printed at 17 digits. A
failed simulation keeps its work folder and names its log in the one-line
error.

The trace holds the start and every window boundary (the simulator lands on
each: the breakpoint source), and with `Record.STEPS` also the simulator's own
time points. Chunks step on different grids: the trace takes their union, each
chunk interpolated linearly onto it inside each window (exact at its own
points and at the boundaries), thinned evenly when it would exceed
`TRACE_BUDGET` values. Nodes a run did not save are NaN after the start.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgen.trace import Trace
from kgen.views import Record

from .analog import Save, Schedule, positive_count
from .netlist import node_name
from .rawfile import Waveforms, sample
from .simulator import SimulationFailed, log_cause

if TYPE_CHECKING:
    from kgen.circuit import Circuit

#: inputs per simulator run are capped so one netlist holds at most this many edges
EDGE_BUDGET = 4000
#: the most values (time points x inputs x nodes) a Record.STEPS trace holds: 128 MB of float64
TRACE_BUDGET = 2 ** 24


@dataclass(frozen=True)
class RunSettings:
    chained: bool = False  # one transient per window
    workers: int | None = None  # parallel simulator processes (default: the CPU count)
    copies: int | None = None  # inputs per simulator run (default: the simulator's: 1, or spread over workers)

    def __post_init__(self):
        positive_count(self.workers, "--workers")
        positive_count(self.copies, "--copies")


@dataclass(eq=False)
class _Chunk:
    """One netlist's inputs: their boundary states and, recording steps, every window's inner points."""

    ends: np.ndarray  # (W, b, N)
    inner: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # per window: t (k,), v (k, b, N)


def simulate(circuit: Circuit, target, options, initial: np.ndarray, settings: RunSettings = RunSettings(),
             record: Record = Record.BOUNDARIES, source: str | None = None) -> Trace:
    """Simulate B copies of the circuit (the rows of `initial`, (B, N) volts) with the target's netlists.

    `target` is an AnalogTarget, `options` its options (dialect, units, accuracy, save)."""
    t_start = time.perf_counter()
    simulator = target.simulator(options)
    executable = simulator.tool.find()
    if settings.chained:
        options = replace(options, save=Save.ALL)  # each window starts from every node's voltage
    initial = np.asarray(initial, dtype=np.float64)
    workers = max(1, settings.workers or os.cpu_count() or 1)
    batch = initial.shape[0]
    # default inputs per run: ngspice's B-source load time grows faster than the source count (twomoon:
    # one copy 7.4 s, four copies in one netlist 55 s of CPU), so it runs one input per netlist; VACASK's
    # compiled models scale linearly, so it spreads the inputs over the workers as disjoint copies.
    per_run = settings.copies or (max(1, -(-batch // workers)) if simulator.spread_copies else 1)
    per_run = max(1, min(per_run, EDGE_BUDGET // max(1, circuit.n_edges)))
    chunks = [np.arange(i, min(i + per_run, batch)) for i in range(0, batch, per_run)]
    work = Path(tempfile.mkdtemp(prefix=f"kgen-{target.name}-"))
    job = _Job(circuit, target, options, simulator, executable, work, settings.chained, record)
    try:
        from kgen.progress import bar

        job.loads = simulator.compile(job)
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                bar(batch, f"{simulator.label} ({target.name})", "input") as shown:
            futures = [pool.submit(job.run_chunk, k, initial[c]) for k, c in enumerate(chunks)]
            parts = []
            for future, c in zip(futures, chunks):
                parts.append(future.result())
                shown.update(len(c))
    except SimulationFailed:
        raise  # the error line names a log inside the work folder: keep it
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    t, v, window = _assemble(circuit, initial, parts, record)
    seconds = time.perf_counter() - t_start
    mode = "chained per-window runs" if settings.chained else "one switched transient"
    saved = range(1, circuit.n_nodes + 1) if options.save is Save.ALL else circuit.outputs
    extra = {"label": f"{simulator.label}, {mode}, {job.runs} simulator runs, {seconds:.1f} s",
             "details": {"simulator_runs": job.runs, **({"profile": dict(sorted(job.profile.items()))}
                                                         if job.profile else {})},
             "recorded_nodes": tuple(saved)}
    return Trace(t, v, np.zeros(v.shape, np.uint8), window, source or target.name,
                 f"{simulator.name} {options.transient.method}", circuit.digest, fixed_step=False, extra=extra)


class _Job:
    """One simulate() call: its work folder, compiled modules and run counter (what a compile step sees)."""

    def __init__(self, circuit, target, options, simulator, executable: Path, work: Path, chained: bool,
                 record: Record):
        self.circuit, self.target, self.options, self.simulator = circuit, target, options, simulator
        self.executable, self.work, self.record = executable, work, record
        n = len(circuit.windows)
        self.schedules = [Schedule.single(w) for w in range(n)] if chained else [Schedule.full(circuit)]
        self.loads: dict[str, str] = {}
        self.runs = 0
        self.profile: dict[str, float] = {}  # summed over the runs
        self._lock = threading.Lock()

    def run_chunk(self, index: int, initial: np.ndarray) -> _Chunk:
        folder = self.work / f"chunk{index}"
        folder.mkdir()
        c = self.circuit
        state = initial
        chunk = _Chunk(np.empty(0))
        ends = []
        for sched in self.schedules:
            run_dir = folder / ("w" + "_".join(map(str, sched.windows)))
            run_dir.mkdir()
            written = self.target.write_netlist(c, self.options, run_dir, state, sched, loads=self.loads)
            setup = written.context.setup
            data = self._simulate(written.files[-1], setup.stop, run_dir)
            columns = self._columns(data, state.shape[0])
            at = _nodes(sample(data.time, data.data, np.asarray(setup.ends)), columns)  # (W_s, b, N)
            if self.record is Record.STEPS:
                t = sched.t0(c) + data.time / self.options.units.tau
                for w in sched.windows:
                    rows = _inner_rows(c, w, t, columns.size)
                    chunk.inner.append((t[rows], _nodes(data.data[rows], columns)))
            ends.append(at)
            state = at[-1]  # chained runs save every node
        chunk.ends = np.concatenate(ends, axis=0)
        return chunk

    def _simulate(self, netlist: str, stop: float, run_dir: Path) -> Waveforms:
        sim = self.simulator
        with self._lock:
            self.runs += 1
        log = sim.run(self.executable, netlist, run_dir)
        spent = sim.profile(log.read_bytes().decode("latin-1"))
        with self._lock:
            for key, value in spent.items():
                self.profile[key] = self.profile.get(key, 0.0) + value
        raw = run_dir / sim.raw_name
        if not raw.is_file():
            cause = log_cause(log.read_bytes().decode("latin-1")) or "no waveform file " + raw.name
            raise SimulationFailed(f"{sim.name} failed ({cause}); log: {log}")
        data = sim.read(raw)
        reached = data.time[-1] if data.data.shape[0] else 0.0
        view = self.target.name
        if reached < stop * (1 - 1e-9):
            raise SimulationFailed(f"{view} simulation: expected a transient up to t = {stop!r}, "
                            f"found a stop at t = {reached!r}; log: {log}")
        if not np.all(np.isfinite(data.data)):
            raise SimulationFailed(f"{view} simulation: expected finite voltages, found NaN or Inf; log: {log}")
        return data

    def _columns(self, data: Waveforms, copies: int) -> np.ndarray:
        """(copies, N) raw-file column of each node's voltage; -1 for nodes the netlist did not save."""
        index = {name: i for i, name in enumerate(data.names)}
        n = self.circuit.n_nodes
        return np.array([[index.get(self.simulator.variable(node_name(node, b, copies)), -1)
                          for node in range(1, n + 1)] for b in range(copies)], dtype=np.int64).reshape(copies, n)


def _nodes(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Raw-file rows (S, variables) as node voltages (S, copies, N); NaN where a node was not saved."""
    out = rows[:, np.maximum(columns, 0)]
    out[:, columns < 0] = np.nan
    return out


def _same_time_tol(circuit: Circuit) -> float:
    return 1e-12 * max(1.0, abs(circuit.t_final - circuit.windows[0].t_start))


def _inner_rows(circuit: Circuit, w: int, t: np.ndarray, values_per_row: int) -> np.ndarray:
    """Rows of the time points strictly inside window w (t in model units), thinned to the budget."""
    win = circuit.windows[w]
    tol = _same_time_tol(circuit)
    keep = np.flatnonzero((t > win.t_start + tol) & (t < win.t_end - tol))
    limit = TRACE_BUDGET // max(1, values_per_row)
    if keep.size > limit:
        keep = keep[:: math.ceil(keep.size / limit)] if limit else keep[:0]
    return keep


def _assemble(circuit: Circuit, initial: np.ndarray, parts: list[_Chunk], record: Record):
    """(t, v (S, B, N), window) of the whole batch: the start, each window's inner points, its end."""
    n_windows = len(circuit.windows)
    ends = np.concatenate([p.ends for p in parts], axis=1)  # (W, B, N)
    times = np.asarray(circuit.times, dtype=np.float64)
    if record is not Record.STEPS:
        window = np.concatenate([[0], np.arange(n_windows)])
        return times, np.concatenate([initial[None], ends], axis=0), window
    grids = [_union([p.inner[w][0] for p in parts], _same_time_tol(circuit)) for w in range(n_windows)]
    batch, nodes = initial.shape
    room = TRACE_BUDGET // max(1, batch * nodes) - (n_windows + 1)
    total = sum(g.size for g in grids)
    if total > max(0, room):
        stride = math.ceil(total / room) if room > 0 else None
        grids = [g[::stride] if stride else g[:0] for g in grids]
    rows = n_windows + 1 + sum(g.size for g in grids)
    t = np.empty(rows)
    v = np.empty((rows, batch, nodes))
    window = np.empty(rows, np.int64)
    t[0], v[0], window[0] = times[0], initial, 0
    r = 1
    for w in range(n_windows):
        g = grids[w]
        if g.size:
            col = 0
            for p in parts:
                start = initial[col:col + p.ends.shape[1]] if w == 0 else p.ends[w - 1]
                v[r:r + g.size, col:col + p.ends.shape[1]] = _onto(g, times[w], start, *p.inner[w], times[w + 1],
                                                                   p.ends[w])
                col += p.ends.shape[1]
            t[r:r + g.size], window[r:r + g.size] = g, w
            r += g.size
        t[r], v[r], window[r] = times[w + 1], ends[w], w
        r += 1
    return t, v, window


def _union(grids: list[np.ndarray], tol: float) -> np.ndarray:
    if len(grids) == 1:
        return grids[0]
    u = np.unique(np.concatenate(grids))
    if u.size < 2:
        return u
    return u[np.concatenate([[True], np.diff(u) > tol])]


def _onto(grid: np.ndarray, a: float, start: np.ndarray, t: np.ndarray, values: np.ndarray, b: float,
          end: np.ndarray) -> np.ndarray:
    """One chunk's states (k, b, N) at `grid` inside [a, b]: linear between its own points, exact on them."""
    tc = np.concatenate([[a], t, [b]])
    vc = np.concatenate([start[None], values, end[None]], axis=0)
    if tc.size - 2 == grid.size and np.array_equal(t, grid):
        return values
    idx = np.clip(np.searchsorted(tc, grid, side="right") - 1, 0, tc.size - 2)
    t0, t1 = tc[idx], tc[idx + 1]
    f = np.where(t1 > t0, (grid - t0) / np.where(t1 > t0, t1 - t0, 1.0), 0.0)[:, None, None]
    with np.errstate(invalid="ignore"):
        mixed = vc[idx] * (1 - f) + vc[idx + 1] * f
    return np.where(f == 0, vc[idx], mixed)

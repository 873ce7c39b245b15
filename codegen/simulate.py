"""Running the analog views: write netlists, simulate (ngspice / VACASK), read the boundaries back.

Inputs are grouped into chunks, each one netlist holding disjoint copies of
the circuit, and the chunks run in parallel over the cores (one simulator
process each, single-threaded). A switched run simulates all windows in one
transient; a chained run simulates one transient per window, each starting
from the previous window's final voltages printed at 17 digits. A failed
simulation keeps its work folder and names its log in the one-line error.
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from kgen.circuit import Circuit
from kgen.errors import ToolError, expected_found
from kgen.modelfile import circuit_digest

from .analog import (SPICE_ACCURACY, VERILOGA_ACCURACY, Accuracy, Save, Schedule, Units, initial_states,
                     transient_setup)
from .netlist import node_name
from .rawfile import Waveforms, read_raw, sample
from .tools import Tool, find_tool

#: inputs per simulator run are capped so one netlist holds at most this many edges
EDGE_BUDGET = 4000
#: default inputs per run: ngspice's B-source load time grows faster than the source count (twomoon:
#: one copy 7.4 s, four copies in one netlist 55 s of CPU), so it runs one input per netlist; VACASK's
#: compiled models scale linearly, so it spreads the inputs over the workers as disjoint copies.


class AnalogView(enum.Enum):
    SPICE = "spice"  # B-source netlist in ngspice
    VERILOGA = "veriloga"  # Verilog-A modules (openvaf-r) in VACASK


@dataclass(frozen=True)
class SimOptions:
    view: AnalogView
    units: Units = field(default_factory=Units)
    accuracy: Accuracy | None = None  # None: the view's preset (SPICE_ACCURACY, VERILOGA_ACCURACY)
    chained: bool = False
    save: Save = Save.ALL
    workers: int | None = None  # parallel simulator processes (default: the CPU count)
    copies: int | None = None  # inputs per simulator run (default: 1 for ngspice, spread over workers for VACASK)
    waveform: bool = False  # also return the first input's waveform


@dataclass(frozen=True, eq=False)
class SimResult:
    times: np.ndarray  # (W + 1,) window boundaries t_0..t_W in model units
    states: np.ndarray  # (W + 1, B, N) node voltages there (NaN for nodes not saved)
    waveform: tuple[np.ndarray, np.ndarray] | None  # input 0: (t (S,) model units, v (S, N))
    runs: int  # simulator invocations (compiles not counted)
    seconds: float  # wall time

    def outputs(self, circuit: Circuit) -> np.ndarray:
        return self.states[-1][:, np.asarray(circuit.outputs) - 1]


def simulate(circuit: Circuit, inputs: np.ndarray, opts: SimOptions) -> SimResult:
    t_start = time.perf_counter()
    if opts.accuracy is None:
        preset = SPICE_ACCURACY if opts.view is AnalogView.SPICE else VERILOGA_ACCURACY
        opts = replace(opts, accuracy=preset)
    inputs = np.asarray(inputs, dtype=np.float64)
    initial = initial_states(circuit, inputs)
    simulator = find_tool(Tool.NGSPICE if opts.view is AnalogView.SPICE else Tool.VACASK)
    workers = max(1, opts.workers or os.cpu_count() or 1)
    batch = initial.shape[0]
    per_run = opts.copies or (1 if opts.view is AnalogView.SPICE else max(1, -(-batch // workers)))
    per_run = max(1, min(per_run, EDGE_BUDGET // max(1, circuit.n_edges)))
    chunks = [np.arange(i, min(i + per_run, batch)) for i in range(0, batch, per_run)]
    work = Path(tempfile.mkdtemp(prefix=f"kgen-{opts.view.value}-"))
    job = _Job(circuit, opts, simulator, work, circuit_digest(circuit))
    try:
        if opts.view is AnalogView.VERILOGA:
            job.compile_modules()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda ic: job.run_chunk(ic[0], initial[ic[1]]), enumerate(chunks)))
    except BaseException:
        if not job.failed:
            shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    states = np.concatenate([p[0] for p in parts], axis=1)
    states = np.concatenate([initial[None], states], axis=0)
    times = np.asarray(circuit.times)
    return SimResult(times, states, parts[0][1] if opts.waveform else None, job.runs,
                     time.perf_counter() - t_start)


class _Job:
    """One simulate() call: its work folder, compiled modules and run counter."""

    def __init__(self, circuit: Circuit, opts: SimOptions, simulator: Path, work: Path, digest: str):
        self.circuit, self.opts, self.simulator, self.work, self.digest = circuit, opts, simulator, work, digest
        self.loads: dict[str, str] = {}
        self.runs = 0
        self.failed = False
        self._lock = threading.Lock()

    def schedules(self) -> list[Schedule]:
        n = len(self.circuit.windows)
        return [Schedule.single(w) for w in range(n)] if self.opts.chained else [Schedule.full(self.circuit)]

    # -- Verilog-A modules, compiled once per call ---------------------------------
    def compile_modules(self) -> None:
        from .veriloga import VerilogAOptions, write_veriloga

        compiler = find_tool(Tool.OPENVAF)
        folder = self.work / "modules"
        folder.mkdir()
        options = VerilogAOptions(units=self.opts.units, accuracy=self.opts.accuracy)
        zero = np.zeros((1, self.circuit.n_nodes))
        for sched in self.schedules():
            files = write_veriloga(self.circuit, options, folder, zero, sched, name="unused.sim", digest=self.digest)
            for va in files[:-1]:
                if va in self.loads:
                    continue
                osdi = folder / (va[:-3] + ".osdi")
                self._run([str(compiler), va, "-o", osdi.name], folder, folder / f"{va[:-3]}.log", "openvaf-r")
                self.loads[va] = str(osdi.resolve())

    # -- one chunk of inputs -----------------------------------------------------------
    def run_chunk(self, index: int, initial: np.ndarray):
        """Boundary states (W, b, N) of the chunk's inputs, and the first input's waveform."""
        folder = self.work / f"chunk{index}"
        folder.mkdir()
        state = initial
        ends, waves = [], []
        for sched in self.schedules():
            run_dir = folder / ("w" + "_".join(map(str, sched.windows)))
            run_dir.mkdir()
            data = self._simulate(sched, state, run_dir)
            setup = transient_setup(self.circuit, sched, self.opts.units, self.opts.accuracy)
            values = self._node_values(data, state.shape[0])  # (S, b, N)
            at = sample(data.time, values, np.asarray(setup.ends))  # (W_s, b, N)
            ends.append(at)
            if self.opts.waveform and index == 0:
                t = sched.t0(self.circuit) + data.time / self.opts.units.tau
                waves.append((np.concatenate([[sched.t0(self.circuit)], t]),
                              np.concatenate([state[:1], values[:, 0]], axis=0)))
            state = at[-1]  # chained runs save every node (see _save)
        waveform = None
        if waves:
            waveform = (np.concatenate([w[0] for w in waves]), np.concatenate([w[1] for w in waves]))
        return np.concatenate(ends, axis=0), waveform

    def _simulate(self, sched: Schedule, initial: np.ndarray, run_dir: Path) -> Waveforms:
        if self.opts.view is AnalogView.SPICE:
            from .spice import SpiceOptions, write_spice

            options = SpiceOptions(units=self.opts.units, accuracy=self.opts.accuracy, save=self._save())
            netlist = write_spice(self.circuit, options, run_dir, initial, sched, digest=self.digest)[-1]
            raw = run_dir / "netlist.raw"
            self._run([str(self.simulator), "-b", "-r", raw.name, netlist], run_dir, run_dir / "ngspice.log",
                      "ngspice")
        else:
            from .veriloga import VerilogAOptions, write_veriloga

            options = VerilogAOptions(units=self.opts.units, accuracy=self.opts.accuracy, save=self._save())
            netlist = write_veriloga(self.circuit, options, run_dir, initial, sched, digest=self.digest,
                                     loads=self.loads)[-1]
            raw = run_dir / "tran1.raw"
            self._run([str(self.simulator), netlist], run_dir, run_dir / "vacask.log", "vacask")
        log = run_dir / ("ngspice.log" if self.opts.view is AnalogView.SPICE else "vacask.log")
        if not raw.is_file():
            cause = log_cause(log.read_bytes().decode("latin-1")) or "no waveform file " + raw.name
            self._fail(f"{_LABEL[self.opts.view]} failed ({cause}); log: {log}")
        data = read_raw(raw)
        stop = transient_setup(self.circuit, sched, self.opts.units, self.opts.accuracy).stop
        reached = data.time[-1] if data.data.shape[0] else 0.0
        if reached < stop * (1 - 1e-9):
            self._fail(f"{self.opts.view.value} simulation: expected a transient up to t = {stop!r}, "
                       f"found a stop at t = {reached!r}; log: {log}")
        if not np.all(np.isfinite(data.data)):
            self._fail(f"{self.opts.view.value} simulation: expected finite voltages, found NaN or Inf; log: {log}")
        return data

    def _save(self) -> Save:
        """A chained run starts each window from every node's voltage: it saves them all."""
        return Save.ALL if self.opts.chained else self.opts.save

    def _node_values(self, data: Waveforms, copies: int) -> np.ndarray:
        """(S, copies, N) node voltages; NaN for nodes the netlist did not save."""
        n = self.circuit.n_nodes
        out = np.full((data.data.shape[0], copies, n), np.nan)
        index = {name: i for i, name in enumerate(data.names)}
        spice = self.opts.view is AnalogView.SPICE
        for b in range(copies):
            for node in range(1, n + 1):
                name = node_name(node, b, copies)
                col = index.get(f"v({name})" if spice else name)
                if col is not None:
                    out[:, b, node - 1] = data.data[:, col]
        return out

    def _run(self, argv: list[str], cwd: Path, log: Path, label: str) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        if label != "openvaf-r":
            with self._lock:
                self.runs += 1
        with open(log, "wb") as fh:
            try:
                proc = subprocess.run(argv, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                      stdin=subprocess.DEVNULL)
            except OSError as exc:
                self._fail(expected_found(label, "a runnable program", f"{exc.strerror} ({argv[0]})"))
        cause = log_cause(log.read_bytes().decode("latin-1"))
        if proc.returncode != 0:
            self._fail(f"{label} failed (exit status {proc.returncode}{': ' + cause if cause else ''}); log: {log}")
        if label == "ngspice" and cause:  # batch ngspice can exit 0 after an analysis error
            self._fail(f"ngspice failed ({cause}); log: {log}")

    def _fail(self, message: str):
        self.failed = True
        raise ToolError(message)


_LABEL = {AnalogView.SPICE: "ngspice", AnalogView.VERILOGA: "vacask"}
_CAUSES = ("timestep too small", "error", "aborted", "fatal", "nan found", "singular")


def log_cause(log: str) -> str | None:
    """The first line of a simulator log that says why it failed (or None)."""
    for line in log.splitlines():
        low = line.strip().lower()
        if any(word in low for word in _CAUSES) and "0 errors" not in low:
            text = " ".join(line.split())
            return text[:160]
    return None

"""The bit-exact model: a vectorised NumPy interpreter of the lowered Program.

State is node-major: the integrator X (N, B) int64 and the read copy R
(N + 1, B) with row 0 the grounded node. Each window's edges are cut into
chunks small enough to stay in cache; per chunk the kind's ops run on
(edges, batch) arrays (int32 where the op's format fits 31 bits, else
int64), and the currents enter the node accumulators through a sparse
incidence matrix in int64 (+1 at the destination, -1 at the source), whose
wrap-around sums are exact whatever the order. The batch is split across
threads (NumPy and SciPy release the GIL), so the result does not depend
on the thread or chunk count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from kgen.errors import InputError, expected_found

from kgen.layout import incidence
from .program import KindProgram, OpCode, Program, WindowProgram
from kgen.qformat import shift_round_array

#: Trace flag bits (per step, sample and node).
FLAG_OVERFLOW = 1  # an accumulator wrapped (never by construction; counted if it happens)
FLAG_SATURATE = 2  # the integrator (or the input load) saturated
FLAG_READ_SATURATE = 4  # the read copy saturated when rounding up


@dataclass(frozen=True, eq=False)
class RunResult:
    final: np.ndarray  # (N, B) int64 integrator raw after the last step
    outputs: np.ndarray  # (B, n_out) float64 integrator values of the output nodes
    saturations: np.ndarray  # (S, N) int64 per step and node, summed over the batch
    overflows: np.ndarray  # (S, N) int64
    times: np.ndarray  # (S,)
    states: np.ndarray | None = None  # (S, N, B) int64 integrator raw per recorded step
    flags: np.ndarray | None = None  # (S, N, B) uint8

    @property
    def total_saturations(self) -> int:
        return int(self.saturations.sum())

    @property
    def total_overflows(self) -> int:
        return int(self.overflows.sum())

    def summary(self) -> str:
        """One line naming what saturated or overflowed (empty when nothing did)."""
        parts = []
        for label, counts in (("saturations", self.saturations), ("overflows", self.overflows)):
            total = int(counts.sum())
            if total:
                steps, nodes = np.nonzero(counts)
                worst = np.argsort(-counts.sum(0), kind="stable")[:5]
                parts.append(f"{total} {label} (first at step {int(steps[0])} node {int(nodes[0]) + 1}; nodes "
                             + ", ".join(f"{int(n) + 1}: {int(counts[:, n].sum())}" for n in worst
                                         if counts[:, n].sum()) + ")")
        return "; ".join(parts)


def _dtype(width: int):
    return np.int32 if width <= 31 else np.int64


@dataclass(frozen=True, eq=False)
class EdgeChunk:
    """A run of edges of one kind in one window, with their stored parameters (the unit the
    model computes; the HDL block tests drive their lanes from it)."""

    kind: KindProgram
    formats: dict  # operand name -> QFormat
    src: np.ndarray
    des: np.ndarray
    params: dict  # name -> (n, 1) array
    kcl: object  # scipy csr (N, n) int64


class Emulator:
    """Runs a Program on batches of inputs; results are identical for any chunk size or thread count."""

    def __init__(self, program: Program, chunk_elements: int = 1 << 18, threads: int | None = None):
        self.program = program
        self.chunk_elements = int(chunk_elements)
        self.threads = max(1, int(threads if threads is not None else min(2, os.cpu_count() or 1)))
        self._plans: dict[tuple[int, int], list[EdgeChunk]] = {}
        self._formats = [k.formats(program.read) for k in program.kinds]

    # -- set-up ---------------------------------------------------------------------------------------
    def edge_chunks(self, wi: int, batch: int) -> list[EdgeChunk]:
        """Window wi's edges in canonical order, cut into chunks sized for `batch` inputs."""
        per = max(64, self.chunk_elements // max(1, batch))
        key = (wi, per)
        if key not in self._plans:
            win: WindowProgram = self.program.windows[wi]
            chunks = []
            for (k, start, stop), params in zip(win.kind_ranges, win.params):
                kp = self.program.kinds[k]
                for a in range(start, stop, per):
                    b = min(stop, a + per)
                    cols = {}
                    for row, (name, fmt) in enumerate(zip(kp.params, kp.param_formats)):
                        cols[name] = params[row, a - start:b - start].astype(_dtype(fmt.width)).reshape(-1, 1)
                    chunks.append(EdgeChunk(kp, self._formats[k], win.src[a:b], win.des[a:b], cols,
                                            incidence(self.program.n_nodes, win.src[a:b], win.des[a:b])))
            self._plans[key] = chunks
        return self._plans[key]

    # -- one kind's ops on a chunk ------------------------------------------------------------------------
    def chunk_currents(self, chunk: EdgeChunk, read: np.ndarray) -> np.ndarray:
        """The chunk's edge currents (edges, batch) in its kind's current format, from the read
        words `read` (N + 1, batch; row 0 is ground), by the kind's lowered ops."""
        kp = chunk.kind
        fmts = chunk.formats
        env = dict(chunk.params)
        env["v_src"] = np.take(read, chunk.src, axis=0)
        env["v_des"] = np.take(read, chunk.des, axis=0)
        for name, raw, _ in kp.constants:
            env[name] = np.int64(raw)
        for op in kp.ops:
            dt = _dtype(op.fmt.width)
            f = op.fmt.frac_bits
            a = env[op.args[0]]
            if op.code in (OpCode.ADD, OpCode.SUB):
                b = env[op.args[1]]
                sa, sb = f - fmts[op.args[0]].frac_bits, f - fmts[op.args[1]].frac_bits
                if sa:
                    a = np.left_shift(a.astype(dt), sa)
                if sb:
                    b = np.left_shift(b.astype(dt), sb)
                r = np.add(a, b, dtype=dt) if op.code is OpCode.ADD else np.subtract(a, b, dtype=dt)
            elif op.code is OpCode.MUL:
                r = np.multiply(a, env[op.args[1]], dtype=dt)
            elif op.code is OpCode.NEG:
                r = np.negative(a, dtype=dt)
            elif op.code is OpCode.MULC:
                r = np.multiply(a, dt(op.const), dtype=dt)
            elif op.code is OpCode.RELU:
                r = np.maximum(a, 0).astype(dt, copy=False)
            elif op.code is OpCode.LEAKY:
                neg = np.multiply(a, np.int64(op.const), dtype=np.int64)
                neg = np.right_shift(neg + np.int64(1 << (op.const_frac - 1)), op.const_frac)
                r = np.where(a >= 0, a, neg).astype(dt, copy=False)
            elif op.code is OpCode.TANH:
                r = self.program.tanh.eval_raw(a, fmts[op.args[0]].frac_bits).astype(dt, copy=False)
            else:  # pragma: no cover - the lowering emits nothing else
                raise AssertionError(op.code)
            env[op.out] = r
        cur = env[kp.current.out].astype(np.int64, copy=False)
        return np.left_shift(cur, kp.acc_shift) if kp.acc_shift else cur

    # -- running ----------------------------------------------------------------------------------------------
    def load(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Data (B, n_data) float -> integrator raw (N, B) and per-node saturation mask (N, B)."""
        p = self.program
        raw, flags = p.integrator.quantize_array(p.input_values(x).T)
        X = np.zeros((p.n_nodes, x.shape[0]), np.int64)
        sat = np.zeros(X.shape, bool)
        idx = np.asarray(p.inputs) - 1
        X[idx] = raw
        sat[idx] = flags
        return X, sat

    def run(self, x: np.ndarray, record: bool = False, marks=None) -> RunResult:
        """Run inputs (B, n_in). record: keep every step's state; marks: keep only these step indices."""
        X0, sat0 = self.load(x)
        return self.run_raw(X0, record, sat0, marks)

    def run_raw(self, X0: np.ndarray, record: bool = False, sat0: np.ndarray | None = None,
                marks=None) -> RunResult:
        """Run from an integrator state (N, B) int64 (e.g. one an HDL test bench loaded)."""
        p = self.program
        X0 = np.asarray(X0, dtype=np.int64)
        if X0.ndim != 2 or X0.shape[0] != p.n_nodes:
            raise InputError(expected_found("initial state", f"shape ({p.n_nodes}, batch)", str(X0.shape)))
        if sat0 is None:
            X0, sat0 = p.integrator.fit_array(X0)
        B = X0.shape[1]
        S = p.total_steps + 1
        if marks is None and record:
            marks = np.arange(S)
        record = marks is not None
        marks = None if marks is None else np.asarray(marks, dtype=np.int64)
        if record and (marks.ndim != 1 or np.any(marks < 0) or np.any(marks >= S)):
            raise InputError(expected_found("recorded steps", f"indices in 0..{S - 1}", str(marks)))
        n_parts = max(1, min(self.threads, B))
        bounds = np.linspace(0, B, n_parts + 1).astype(int)
        parts = [(X0[:, a:b], sat0[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        if n_parts == 1:
            results = [self._run_part(*parts[0], marks)]
        else:
            with ThreadPoolExecutor(n_parts) as pool:
                results = list(pool.map(lambda part: self._run_part(*part, marks), parts))
        final = np.concatenate([r[0] for r in results], axis=1)
        sat = sum(r[1] for r in results)
        ovf = sum(r[2] for r in results)
        states = np.concatenate([r[3] for r in results], axis=2) if record else None
        flags = np.concatenate([r[4] for r in results], axis=2) if record else None
        out_idx = np.asarray(p.outputs) - 1
        outputs = p.integrator.values(final[out_idx]).T.copy()
        times = p.step_times()
        return RunResult(final, outputs, sat, ovf, times if marks is None else times[marks], states, flags)

    def _run_part(self, X: np.ndarray, sat0: np.ndarray, marks):
        p = self.program
        n, b = p.n_nodes, X.shape[1]
        S = p.total_steps + 1
        sat_counts = np.zeros((S, n), np.int64)
        ovf_counts = np.zeros((S, n), np.int64)
        record = marks is not None
        slot = np.full(S, -1, np.int64)
        if record:
            slot[marks] = np.arange(marks.size)
        states = np.zeros((marks.size, n, b), np.int64) if record else None
        flags = np.zeros((marks.size, n, b), np.uint8) if record else None
        X = X.copy()
        R = np.zeros((n + 1, b), _dtype(p.read.width))
        res = np.zeros((n, b), np.int64) if p.read_feedback else None
        rd, res, rsat = p.read_state(X, res)
        R[1:] = rd
        sat_counts[0] = sat0.sum(1) + rsat.sum(1)
        if record and slot[0] >= 0:
            states[slot[0]] = X
            flags[slot[0]] = np.where(sat0, FLAG_SATURATE, 0) | np.where(rsat, FLAG_READ_SATURATE, 0)
        s = 0
        acc_lo, acc_hi = p.acc.min_raw, p.acc.max_raw
        for wi, win in enumerate(p.windows):
            plan = self.edge_chunks(wi, b)
            coef = win.coef.reshape(-1, 1)
            for _ in range(win.steps):
                s += 1
                acc = np.zeros((n, b), np.int64)
                for chunk in plan:
                    acc += chunk.kcl @ self.chunk_currents(chunk, R)
                ovf = (acc < acc_lo) | (acc > acc_hi)
                if ovf.any():  # impossible for a checked program; wrap as the hardware would, and count
                    acc, _ = p.acc.fit_array(acc)
                    ovf_counts[s] = ovf.sum(1)
                inc = shift_round_array(acc * coef, win.update_shift, p.integrator.rounding)
                X, isat = p.integrator.fit_array(X + inc)
                rd, res, rsat = p.read_state(X, res)
                R[1:] = rd
                sat_counts[s] = isat.sum(1) + rsat.sum(1)
                if record and slot[s] >= 0:
                    states[slot[s]] = X
                    flags[slot[s]] = (np.where(ovf, FLAG_OVERFLOW, 0) | np.where(isat, FLAG_SATURATE, 0)
                                | np.where(rsat, FLAG_READ_SATURATE, 0))
        return X, sat_counts, ovf_counts, states, flags

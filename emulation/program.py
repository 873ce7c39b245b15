"""The lowered integer program: what the bit-exact model and the HDL both execute.

Every value is a signed raw integer with a fixed number of fraction bits (its
QFormat). Per edge, a device kind is a short straight-line program
(`KindProgram.ops`) from the read copies of its two terminal voltages
(`v_src`, `v_des`, both in `Program.read`) and its stored parameter pieces
(`scale`, `w_src`, `w_des`, `bias`, each in its own format) to the edge
current. Op semantics (f = the op's fraction bits, fa / fb its operands'):

    SUB  a b      (a << (f - fa)) - (b << (f - fb))          f = max(fa, fb), exact
    ADD  a b      (a << (f - fa)) + (b << (f - fb))          f = max(fa, fb), exact
    MUL  a b      a * b                                      f = fa + fb, exact
    NEG  a        -a                                         exact
    MULC a        a * const                                  f = fa + const_frac, exact
    RELU a        max(a, 0)                                  f = fa, exact
    LEAKY a       a if a >= 0 else                           f = fa; the negative side is rounded
                  (a * const + 2**(const_frac-1)) >> const_frac    half-up (error <= 2**-(fa+1))
    TANH a        the shared table (tanh_table.py)           f = tanh.out_frac, documented error

Rounding happens only inside the activations (leaky's slope product, the
tanh lookup), each with a stated bound; the edge current itself enters the
KCL sum exactly.

Each op's format is sized from interval arithmetic over its operands' whole
format ranges, so no datapath value can overflow. Per node and Euler step:

    acc_n = sum_{des(e)=n} (i_e << acc_shift_k) - sum_{src(e)=n} (i_e << acc_shift_k)
            exact two's-complement sum in `acc` (statically sized: never wraps)
    inc_n = round(acc_n * coef_n, update_shift)    rounding shift right, integrator rule
    X_n   = saturate(X_n + inc_n)                  integrator format
    R_n   = saturate(round(X_n, Fi - Fr))          read format (what the edges see next step)

With `read_feedback` (noise-shaped read) the rounding residue is carried:

    t_n   = X_n + c_n                              c_n: residue register, `residue` format
    R_n   = saturate(round(t_n, Fi - Fr))
    c_n   = saturate(t_n - (R_n << (Fi - Fr)))     |c_n| <= half a read LSB unless R saturated

so the read errors telescope (sum_k (R_k - X_k) = c_start - c_k) instead of
adding up where the state moves slowly; c starts at 0.

Inputs load into X (rounded, saturated, counted), R follows; outputs are X of
the output nodes. Every edge of a step reads the previous step's R (Jacobi).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from kgen.devices import Activation
from kgen.errors import InputError, UnsupportedError, expected_found
from kgen.trace import Trace

from kgen.qformat import MAX_WIDTH, QFormat
from .tanh_table import TanhTable


class OpCode(enum.Enum):
    SUB = "sub"
    ADD = "add"
    MUL = "mul"
    NEG = "neg"
    MULC = "mulc"
    RELU = "relu"
    LEAKY = "leaky"
    TANH = "tanh"


@dataclass(frozen=True)
class Op:
    out: str
    code: OpCode
    args: tuple[str, ...]
    fmt: QFormat  # the exact result's format (TANH: the table's output format)
    const: int = 0  # MULC / LEAKY: the constant's raw value
    const_frac: int = 0  # its fraction bits

    def __str__(self) -> str:
        c = f" const={self.const}*2^-{self.const_frac}" if self.code in (OpCode.MULC, OpCode.LEAKY) else ""
        return f"{self.out} = {self.code.value}({', '.join(self.args)}){c} : {self.fmt}"


@dataclass(frozen=True)
class KindProgram:
    """One device kind lowered: stored pieces, their formats and the op list."""

    kind: str
    activation: Activation
    params: tuple[str, ...]  # stored pieces, in WindowProgram.params row order
    param_formats: tuple[QFormat, ...]
    ops: tuple[Op, ...]
    acc_shift: int  # left shift from the current's fraction bits to the accumulator's
    constants: tuple[tuple[str, int, int], ...] = ()  # (name, raw, frac): constant pieces used as operands

    @property
    def current(self) -> Op:
        return self.ops[-1]

    def formats(self, read: QFormat) -> dict[str, QFormat]:
        from kgen.qformat import exact_format

        out = {"v_src": read, "v_des": read}
        out.update(zip(self.params, self.param_formats))
        out.update((name, exact_format(min(raw, 0), max(raw, 0), frac)) for name, raw, frac in self.constants)
        out.update((op.out, op.fmt) for op in self.ops)
        return out


@dataclass(frozen=True, eq=False)
class WindowProgram:
    """One time window in execution order: its edges, parameters and step coefficients."""

    window: int  # index into Circuit.windows
    t_from: float  # start time of the integration (t_end when reversed)
    t_to: float
    steps: int
    dt: float  # signed float step (negative when reversed)
    edge_id: np.ndarray  # (E_w,) circuit edge indices, grouped by kind, then by destination
    src: np.ndarray  # (E_w,) node indices 0..N (0 = ground)
    des: np.ndarray
    kind_ranges: tuple[tuple[int, int, int], ...]  # (program kind index, start, stop)
    params: tuple[np.ndarray, ...]  # per kind range: int64 (len(kind.params), stop - start)
    coef: np.ndarray  # int64 (N,): dt_w / C_n (negated when reversed), coef_fmt raw
    coef_fmt: QFormat
    update_shift: int  # acc_frac + coef_frac - integrator frac (rounding shift right)
    acc_bound: np.ndarray  # int64 (N,): static bound of |acc_n| (raw)

    @property
    def n_edges(self) -> int:
        return int(self.edge_id.size)


@dataclass(frozen=True, eq=False)
class Program:
    name: str
    digest: str
    n_nodes: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    reverse: bool
    read: QFormat
    integrator: QFormat
    read_feedback: bool
    acc: QFormat
    kinds: tuple[KindProgram, ...]
    windows: tuple[WindowProgram, ...]  # in execution order
    tanh: TanhTable | None
    param_saturations: tuple[tuple[str, int], ...]  # (description, count) when saturation was allowed
    input_columns: tuple[int, ...] = ()  # data column of each input node (kgen.layout.input_map); () = in order

    def input_values(self, x: np.ndarray) -> np.ndarray:
        """Data (B, n_data) -> the input nodes' values (B, n_inputs) by the circuit's fill rule."""
        x = np.asarray(x, dtype=np.float64)
        width = (max(self.input_columns) + 1) if self.input_columns else len(self.inputs)
        if x.ndim != 2 or x.shape[1] != width:
            raise InputError(expected_found("inputs", f"shape (batch, {width})", str(x.shape)))
        return x[:, list(self.input_columns)] if self.input_columns else x

    def trace(self, raw: np.ndarray, flags: np.ndarray, source: str, marks=None, bound=None) -> Trace:
        """The trace of integrator words raw (S, N, B) recorded at step indices `marks` (every step if None),
        with their flags (S, N, B) and optionally the derived error bound (S, N, B)."""
        times, windows = self.step_times(), self.step_windows()
        if marks is not None:
            times, windows = times[marks], windows[marks]
        fmt, n = self.integrator, self.n_nodes
        raw = np.transpose(raw, (0, 2, 1))
        return Trace(times, fmt.values(raw), np.transpose(flags, (0, 2, 1)).astype(np.uint8), windows, source,
                     "euler", self.digest, True, raw, np.full(n, fmt.signed), np.full(n, fmt.int_bits),
                     np.full(n, fmt.frac_bits), None if bound is None else np.transpose(bound, (0, 2, 1)))

    @property
    def residue(self) -> QFormat:
        """Format of the read-feedback residue c_n: signed, integrator LSB, one bit above half a read LSB."""
        s = self.integrator.frac_bits - self.read.frac_bits
        return QFormat(True, s + 1 - self.integrator.frac_bits, self.integrator.frac_bits)

    def read_state(self, X: np.ndarray, residue: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The read copy of integrator X: (R, new residue or None, saturation mask), integer ops only."""
        fi = self.integrator.frac_bits
        if not self.read_feedback:
            R, sat = self.read.rescale_array(X, fi)
            return R, None, sat
        t = X + residue
        R, sat = self.read.rescale_array(t, fi)
        res, _ = self.residue.fit_array(t - np.left_shift(R, fi - self.read.frac_bits))
        return R, res, sat

    @property
    def total_steps(self) -> int:
        return sum(w.steps for w in self.windows)

    def step_times(self) -> np.ndarray:
        """(S,) times of the recorded states: the start, then after every Euler step."""
        t = [self.windows[0].t_from]
        for w in self.windows:
            k = np.arange(1, w.steps + 1)
            t.extend((w.t_from + (w.t_to - w.t_from) * k / w.steps).tolist())
        return np.asarray(t, dtype=np.float64)

    def boundary_steps(self) -> np.ndarray:
        """Step indices of the window boundaries in execution order (the start included)."""
        return np.concatenate([[0], np.cumsum([w.steps for w in self.windows])]).astype(np.int64)

    def step_windows(self) -> np.ndarray:
        """(S,) circuit window index of each recorded state (the start counts as the first window)."""
        out = [self.windows[0].window]
        for w in self.windows:
            out.extend([w.window] * w.steps)
        return np.asarray(out, dtype=np.int64)

    def widths(self) -> list[tuple[str, int]]:
        """Every intermediate the interpreters hold, with its signed width in bits."""
        out = [("read", self.read.width), ("integrator", self.integrator.width), ("accumulator", self.acc.width)]
        if self.read_feedback:
            out.append(("integrator+residue", self.integrator.width + 1))
        for k in self.kinds:
            out += [(f"{k.kind}.{p}", f.width) for p, f in zip(k.params, k.param_formats)]
            out += [(f"{k.kind}.{op.out}", op.fmt.width + (0 if op.fmt.signed else 1)) for op in k.ops]
            out.append((f"{k.kind}.current<<{k.acc_shift}", k.current.fmt.width + k.acc_shift))
        for w in self.windows:
            prod = self.acc.width + w.coef_fmt.width
            out.append((f"window {w.window} acc*coef", prod))
            inc = prod - w.update_shift + (1 if w.update_shift > 0 else 0)  # rounding may carry one bit
            out.append((f"window {w.window} integrator+inc", max(inc, self.integrator.width) + 1))
        if self.tanh is not None:
            s = self.tanh.spec
            out.append(("tanh rise*t", s.out_frac + 1 + s.seg_shift))
        return out

    def check_widths(self, limit: int = MAX_WIDTH) -> None:
        for what, bits in self.widths():
            if bits > limit:
                raise UnsupportedError(expected_found(f"fixed-point intermediate {what}", f"at most {limit} bits",
                                                      f"{bits} bits (use narrower parameter, coefficient or "
                                                      "state formats)"))

    def describe(self) -> str:
        lines = [f"program for {self.name} ({self.digest[:12]}), {self.n_nodes} nodes, "
                 f"{'reverse' if self.reverse else 'forward'}",
                 f"  read {self.read.describe()}" + (f", noise-shaped (residue {self.residue})"
                                                       if self.read_feedback else ""),
                 f"  integrator {self.integrator.describe()}",
                 f"  accumulator {self.acc.describe()}"]
        if self.tanh is not None:
            s = self.tanh.spec
            lines.append(f"  tanh table: {s.segments} segments on [0, {s.x_max}), |z| {s.arg_format}, "
                         f"out {s.out_format}, max error {self.tanh.max_error_with_rounding:.3g}")
        for k in self.kinds:
            lines.append(f"  kind {k.kind} ({k.activation.value}): "
                         + ", ".join(f"{p} {f}" for p, f in zip(k.params, k.param_formats))
                         + f"; current << {k.acc_shift}")
            lines += [f"    {op}" for op in k.ops]
        for w in self.windows:
            lines.append(f"  window {w.window}: [{w.t_from:g} -> {w.t_to:g}] {w.steps} steps, dt {w.dt:.6g}, "
                         f"{w.n_edges} edges, coef {w.coef_fmt} (shift {w.update_shift})")
        return "\n".join(lines)

    def manifest(self) -> dict:
        """A JSON-able summary (formats, shifts, sizes) for generated files and the HDL."""
        return {
            "name": self.name, "digest": self.digest, "nodes": self.n_nodes, "reverse": self.reverse,
            "read": self.read.to_dict(), "integrator": self.integrator.to_dict(), "accumulator": self.acc.to_dict(),
            "read_feedback": self.read_feedback, "residue": self.residue.to_dict() if self.read_feedback else None,
            "tanh": None if self.tanh is None else {**self.tanh.spec.to_dict(),
                                                     "max_error": self.tanh.max_error_with_rounding},
            "kinds": [{"kind": k.kind, "activation": k.activation.value,
                       "params": {p: f.to_dict() for p, f in zip(k.params, k.param_formats)},
                       "ops": [str(op) for op in k.ops], "acc_shift": k.acc_shift} for k in self.kinds],
            "windows": [{"window": w.window, "steps": w.steps, "dt": w.dt, "edges": w.n_edges,
                         "coef": w.coef_fmt.to_dict(), "update_shift": w.update_shift} for w in self.windows],
        }

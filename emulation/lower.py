"""Lowering: (Circuit, QuantConfig) -> the typed integer Program.

Device kinds are lowered from their canonical sympy pieces (kgen.devices):
each piece is a stored parameter or a constant (0, +-1, other), difference
kinds (w_des = -w_src) subtract the terminals first, and the activation
becomes a compare (relu), a compare and constant multiply (leaky_relu) or the
shared table (tanh). Formats come from interval arithmetic over whole format
ranges; the accumulator is sized from the sum of per-edge current bounds
over each node's edges (actual parameter values), so the KCL sum is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kgen.circuit import Circuit, Fill
from kgen.devices import DEVICE_KINDS, LEAKY_SLOPE, PIECES, Activation
from kgen.errors import InputError, UnsupportedError, expected_found

from kgen.quant import QuantConfig
from kgen.layout import input_map, window_edges
from .program import KindProgram, Op, OpCode, Program, WindowProgram
from kgen.qformat import MAX_WIDTH, QFormat, Rounding, exact_format, fit_format, signed_bits
from .tanh_table import build_table

_LIMIT = float(2 ** 62)


# -- interval arithmetic on raw integers (NumPy int64 arrays, guarded against int64 overflow) ---------

@dataclass
class Interval:
    lo: np.ndarray
    hi: np.ndarray
    frac: int


def _guard(*arrays, what: str = "fixed-point intermediate") -> None:
    for a in arrays:
        if np.max(np.abs(np.asarray(a, dtype=np.float64))) >= _LIMIT:
            raise UnsupportedError(expected_found(what, f"at most {MAX_WIDTH} bits",
                                                  "a value beyond 2^62 (use narrower parameter or state formats)"))


def _align(iv: Interval, frac: int) -> tuple[np.ndarray, np.ndarray]:
    s = frac - iv.frac
    _guard(np.ldexp(np.asarray(iv.lo, np.float64), s), np.ldexp(np.asarray(iv.hi, np.float64), s))
    return np.left_shift(iv.lo, s), np.left_shift(iv.hi, s)


def _products(a_lo, a_hi, b_lo, b_hi):
    cands = [np.asarray(x, np.float64) * np.asarray(y, np.float64) for x in (a_lo, a_hi) for y in (b_lo, b_hi)]
    _guard(*cands)
    exact = [np.multiply(x, y, dtype=np.int64) for x in (a_lo, a_hi) for y in (b_lo, b_hi)]
    return np.minimum.reduce(exact), np.maximum.reduce(exact)


def op_interval(op: Op, env: dict[str, Interval], tanh_cap: int = 0) -> Interval:
    """The exact range of op's result given its operands' ranges (mirrors the op semantics)."""
    args = [env[a] for a in op.args]
    f = op.fmt.frac_bits
    if op.code in (OpCode.ADD, OpCode.SUB):
        (alo, ahi), (blo, bhi) = _align(args[0], f), _align(args[1], f)
        if op.code is OpCode.ADD:
            return Interval(alo + blo, ahi + bhi, f)
        return Interval(alo - bhi, ahi - blo, f)
    a = args[0]
    if op.code is OpCode.MUL:
        b = args[1]
        lo, hi = _products(a.lo, a.hi, b.lo, b.hi)
        return Interval(lo, hi, f)
    if op.code is OpCode.NEG:
        return Interval(-a.hi, -a.lo, f)
    if op.code is OpCode.MULC:
        lo, hi = _products(a.lo, a.hi, op.const, op.const)
        return Interval(lo, hi, f)
    if op.code is OpCode.RELU:
        return Interval(np.maximum(a.lo, 0), np.maximum(a.hi, 0), f)
    if op.code is OpCode.LEAKY:
        # negative side: floor((a * c + 2**(cf-1)) / 2**cf), monotone in a
        nlo, nhi = _products(np.minimum(a.lo, 0), np.minimum(a.hi, 0), op.const, op.const)
        half = 1 << (op.const_frac - 1)
        nlo, nhi = np.right_shift(nlo + half, op.const_frac), np.right_shift(nhi + half, op.const_frac)
        return Interval(np.minimum(np.maximum(a.lo, 0), nlo), np.maximum(np.maximum(a.hi, 0), nhi), f)
    if op.code is OpCode.TANH:
        shape = np.shape(a.lo)
        return Interval(np.full(shape, -tanh_cap, np.int64), np.full(shape, tanh_cap, np.int64), f)
    raise AssertionError(op.code)


def _const_raw(value: float, width: int = 18) -> tuple[int, int]:
    fmt = fit_format(value, width)
    raw, _ = fmt.quantize(value)
    return raw, fmt.frac_bits


# -- one device kind ------------------------------------------------------------------------------------

class _Builder:
    def __init__(self, read: QFormat, tanh_cap: int):
        self.ops: list[Op] = []
        self.env: dict[str, Interval] = {}
        self.constants: list[tuple[str, int, int]] = []
        self.tanh_cap = tanh_cap
        one = lambda v: np.array([v], np.int64)  # noqa: E731
        for name in ("v_src", "v_des"):
            self.env[name] = Interval(one(read.min_raw), one(read.max_raw), read.frac_bits)

    def param(self, name: str, fmt: QFormat) -> str:
        self.env[name] = Interval(np.array([fmt.min_raw], np.int64), np.array([fmt.max_raw], np.int64),
                                  fmt.frac_bits)
        return name

    def emit(self, out: str, code: OpCode, args: tuple[str, ...], frac: int, const: int = 0, const_frac: int = 0,
             fmt: QFormat | None = None) -> str:
        probe = Op(out, code, args, QFormat(True, 1, frac), const, const_frac)
        try:
            iv = op_interval(probe, self.env, self.tanh_cap)
        except UnsupportedError:
            raise UnsupportedError(expected_found(f"fixed-point intermediate {out} = {code.value}({', '.join(args)})",
                                                  f"at most {MAX_WIDTH} bits", "a value beyond 2^62 (use narrower "
                                                  "parameter or state formats)")) from None
        if fmt is None:
            fmt = exact_format(int(iv.lo.min()), int(iv.hi.max()), frac)
        op = Op(out, code, args, fmt, const, const_frac)
        self.ops.append(op)
        self.env[out] = iv
        return out

    def frac(self, name: str) -> int:
        return self.env[name].frac

    def times(self, piece: str, const: float | None, fmt: QFormat | None, operand: str, out: str) -> str | None:
        """piece * operand, by piece type: None (zero), operand (one), NEG, MULC or MUL."""
        if const is not None:
            if const == 0:
                return None
            if const == 1:
                return operand
            if const == -1:
                return self.emit(out, OpCode.NEG, (operand,), self.frac(operand))
            c, cf = _const_raw(const)
            return self.emit(out, OpCode.MULC, (operand,), self.frac(operand) + cf, c, cf)
        p = self.param(piece, fmt)
        return self.emit(out, OpCode.MUL, (p, operand), self.frac(p) + self.frac(operand))


def lower_kind(kind: str, read: QFormat, formats: dict[str, QFormat], config: QuantConfig) -> KindProgram:
    """The op list of one device kind; `formats` holds the stored pieces' formats."""
    dk = DEVICE_KINDS[kind]
    consts = DEVICE_KINDS[kind].constant_pieces
    tanh_cap = (1 << config.tanh.out_frac) - 1
    b = _Builder(read, tanh_cap)
    if DEVICE_KINDS[kind].is_difference:
        d = b.emit("d", OpCode.SUB, ("v_src", "v_des"), read.frac_bits)
        p = b.times("w_src", consts["w_src"], formats.get("w_src"), d, "wd")
    else:
        ts = b.times("w_src", consts["w_src"], formats.get("w_src"), "v_src", "ws_vs")
        td = b.times("w_des", consts["w_des"], formats.get("w_des"), "v_des", "wd_vd")
        terms = [t for t in (ts, td) if t is not None]
        if len(terms) == 2:
            p = b.emit("p", OpCode.ADD, tuple(terms), max(b.frac(t) for t in terms))
        else:
            p = terms[0] if terms else None
    bias_c = consts["bias"]
    if bias_c is None or bias_c != 0:
        if bias_c is None:
            bias = b.param("bias", formats["bias"])
        else:
            raw, bf = _const_raw(bias_c)
            bias = "bias_const"
            b.env[bias] = Interval(np.array([raw], np.int64), np.array([raw], np.int64), bf)
            b.constants.append((bias, raw, bf))
            if p is None:
                raise UnsupportedError(expected_found(f"device kind {kind}", "a current that depends on a voltage",
                                                      "a constant"))
        z = b.emit("z", OpCode.ADD, (p, bias), max(b.frac(p), b.frac(bias))) if p is not None else bias
    else:
        z = p
    if z is None:
        raise UnsupportedError(expected_found(f"device kind {kind}", "a current that depends on a voltage",
                                              "a constant"))
    act = dk.activation
    if act is Activation.RELU:
        y = b.emit("y", OpCode.RELU, (z,), b.frac(z))
    elif act is Activation.LEAKY_RELU:
        c = QFormat(False, 0, config.leaky_frac).quantize(LEAKY_SLOPE)[0]
        y = b.emit("y", OpCode.LEAKY, (z,), b.frac(z), c, config.leaky_frac)
    elif act is Activation.TANH:
        y = b.emit("y", OpCode.TANH, (z,), config.tanh.out_frac, fmt=config.tanh.out_format)
    else:
        y = z
    i = b.times("scale", consts["scale"], formats.get("scale"), y, "i")
    if i is None:
        raise UnsupportedError(expected_found(f"device kind {kind}", "a non-zero scale", "scale 0"))
    if not b.ops or b.ops[-1].out != i:
        raise UnsupportedError(expected_found(f"device kind {kind}", "an edge current computed from the terminals",
                                              "a stored value"))
    params = tuple(n for n in PIECES if n in b.env and n not in ("v_src", "v_des"))
    return KindProgram(kind, act, params, tuple(formats[n] for n in params), tuple(b.ops), 0, tuple(b.constants))


# -- parameter formats and values -------------------------------------------------------------------------

def _stored_pieces(kind: str) -> tuple[str, ...]:
    consts = DEVICE_KINDS[kind].constant_pieces
    out = [p for p in PIECES if consts[p] is None]
    if DEVICE_KINDS[kind].is_difference and "w_des" in out:
        out.remove("w_des")
    return tuple(out)


def _piece_label(kind: str, piece: str) -> str:
    expr = dict(zip(PIECES, DEVICE_KINDS[kind].pieces()))[piece]
    return f"{piece} (= {expr})"


def param_formats(circuit: Circuit, config: QuantConfig, layouts) -> dict[tuple[str, str], QFormat]:
    """Explicit formats from the config, else fitted to the largest |value| at config.param_width bits."""
    peaks: dict[tuple[str, str], float] = {}
    for lay in layouts:
        for seg in lay.segments:
            for piece in _stored_pieces(seg.kind):
                vals = seg.pieces[piece]
                peak = float(np.max(np.abs(vals))) if vals.size else 0.0
                peaks[(seg.kind, piece)] = max(peaks.get((seg.kind, piece), 0.0), peak)
    out = {}
    for (kind, piece), peak in sorted(peaks.items()):
        out[(kind, piece)] = config.param_format(kind, piece) or fit_format(
            peak if peak > 0 else 1.0, config.param_width, rounding=Rounding.HALF_UP)
    # a fitted bias needs no more fraction bits than the product it is added to (w * v)
    for (kind, piece), fmt in list(out.items()):
        if piece != "bias" or config.param_format(kind, piece) is not None:
            continue
        ws = out.get((kind, "w_src"))
        wd = out.get((kind, "w_des"))
        prod = max((f.frac_bits for f in (ws, wd) if f is not None), default=0) + config.read.frac_bits
        if fmt.frac_bits > prod:
            # fewer fraction bits: size the integer part for the peak rounded at `prod` bits
            wide = QFormat(True, MAX_WIDTH - prod, prod, fmt.rounding)
            raw = max(abs(wide.quantize(peaks[(kind, piece)])[0]), abs(wide.quantize(-peaks[(kind, piece)])[0]))
            out[(kind, piece)] = QFormat(True, signed_bits(-raw, raw) - prod, prod, fmt.rounding, fmt.overflow)
    return out


def check_param_formats(layouts, fmts: dict, allow: bool) -> None:
    """Every stored parameter must fit its format (unless saturation is allowed): one error per piece,
    naming the parameter, how many values fall outside, the worst one and the bits it needs."""
    if allow:
        return
    for (kind, piece), fmt in sorted(fmts.items()):
        worst, where, count = 0.0, None, 0
        for lay in layouts:
            for seg in lay.segments:
                if seg.kind != kind:
                    continue
                vals = seg.pieces[piece]
                _, flags = fmt.quantize_array(vals)
                count += int(flags.sum())
                for k in np.flatnonzero(flags):
                    if abs(vals[k]) > abs(worst):
                        worst, where = float(vals[k]), (int(lay.edge_id[seg.start + k]), lay.window)
        if count:
            wide, _ = QFormat(True, MAX_WIDTH - fmt.frac_bits, fmt.frac_bits, fmt.rounding).quantize(worst)
            bits = signed_bits(min(wide, 0), max(wide, 0)) if fmt.signed else max(1, abs(wide).bit_length())
            need = QFormat(fmt.signed, bits - fmt.frac_bits, fmt.frac_bits)
            raise InputError(expected_found(
                f"parameter {_piece_label(kind, piece)} of {kind}",
                f"values within {fmt} [{float(fmt.min_value):.6g}, {float(fmt.max_value):.6g}]",
                f"{count} outside, the worst {worst:.6g} (edge {where[0]}, window {where[1]}) needing "
                f"{need.int_bits} integer bits: {need} ({need.width} bits); or allow saturation"))


# -- the whole program ------------------------------------------------------------------------------------

def _edge_current_bounds(kp: KindProgram, read: QFormat, params: np.ndarray, tanh_cap: int) -> np.ndarray:
    """Per edge, the largest |current| (raw, the current's own fraction bits) over every read value."""
    n = params.shape[1]
    env = {name: Interval(np.full(n, read.min_raw, np.int64), np.full(n, read.max_raw, np.int64), read.frac_bits)
           for name in ("v_src", "v_des")}
    for row, (name, fmt) in enumerate(zip(kp.params, kp.param_formats)):
        env[name] = Interval(params[row], params[row], fmt.frac_bits)
    for name, raw, frac in kp.constants:
        env[name] = Interval(np.full(n, raw, np.int64), np.full(n, raw, np.int64), frac)
    for op in kp.ops:
        env[op.out] = op_interval(op, env, tanh_cap)
    iv = env[kp.current.out]
    return np.maximum(np.abs(iv.lo), np.abs(iv.hi))


def lower(circuit: Circuit, config: QuantConfig, reverse: bool = False) -> Program:
    if config.steps is None:
        raise InputError(expected_found("Euler steps per window", "a count per window (kgen quantize or --steps)",
                                        "none"))
    if len(config.steps) != len(circuit.windows):
        raise InputError(expected_found("Euler steps per window", f"{len(circuit.windows)} counts",
                                        f"{len(config.steps)}"))
    read, integ = config.read, config.integrator
    for kind, piece, fmt in config.param_formats:
        if kind not in circuit.kinds or piece not in _stored_pieces(kind):
            stored = ", ".join(_stored_pieces(kind)) if kind in DEVICE_KINDS else "none"
            raise InputError(expected_found(f"parameter format {kind}.{piece}={fmt}",
                                            f"a stored piece of a device kind in the circuit ({kind}: {stored})",
                                            "no such parameter"))
    layouts = [window_edges(circuit, w) for w in range(len(circuit.windows))]
    fmts = param_formats(circuit, config, layouts)
    check_param_formats(layouts, fmts, config.allow_saturation)
    used_kinds = sorted({seg.kind_index for lay in layouts for seg in lay.segments})
    kind_progs = []
    for k in used_kinds:
        name = circuit.kinds[k]
        kind_progs.append(lower_kind(name, read, {p: fmts[(name, p)] for p in _stored_pieces(name)}, config))
    acc_frac = max(kp.current.fmt.frac_bits for kp in kind_progs)
    kind_progs = [KindProgram(kp.kind, kp.activation, kp.params, kp.param_formats, kp.ops,
                              acc_frac - kp.current.fmt.frac_bits, kp.constants) for kp in kind_progs]
    prog_index = {circuit.kinds[k]: i for i, k in enumerate(used_kinds)}
    tanh_cap = (1 << config.tanh.out_frac) - 1
    table = build_table(config.tanh) if any(kp.activation is Activation.TANH for kp in kind_progs) else None

    saturations: dict[str, int] = {}
    built = []
    acc_max = 0
    for w, lay in enumerate(layouts):
        win = circuit.windows[w]
        ranges, params = [], []
        bound = np.zeros(circuit.n_nodes + 1, np.int64)
        for seg in lay.segments:
            kp = kind_progs[prog_index[seg.kind]]
            rows = []
            for piece, fmt in zip(kp.params, kp.param_formats):
                raw, flags = fmt.quantize_array(seg.pieces[piece])
                if flags.any():
                    saturations[f"{seg.kind}.{piece} window {w}"] = int(flags.sum())
                rows.append(raw)
            p = np.array(rows, dtype=np.int64).reshape(len(kp.params), seg.stop - seg.start)
            p.setflags(write=False)
            ranges.append((prog_index[seg.kind], seg.start, seg.stop))
            params.append(p)
            cur = _edge_current_bounds(kp, read, p, tanh_cap)
            _guard(np.ldexp(cur.astype(np.float64), kp.acc_shift) * max(1, seg.stop - seg.start),
                   what=f"fixed-point accumulator of {seg.kind} currents in window {w}")
            cur = np.left_shift(cur, kp.acc_shift)
            np.add.at(bound, lay.src[seg.start:seg.stop], cur)
            np.add.at(bound, lay.des[seg.start:seg.stop], cur)
        node_bound = bound[1:]
        acc_max = max(acc_max, int(node_bound.max()) if node_bound.size else 0)
        # the step coefficient dt_w / C_n, one exponent per window
        n = config.steps[w]
        dt = (win.t_end - win.t_start) / n
        k = dt / circuit.capacitance
        coef_fmt = fit_format(float(np.max(k)), config.coef_width, rounding=Rounding.HALF_UP)
        coef, _ = coef_fmt.quantize_array(-k if reverse else k)
        coef.setflags(write=False)
        node_bound.setflags(write=False)
        built.append(dict(window=w, t_from=win.t_end if reverse else win.t_start,
                          t_to=win.t_start if reverse else win.t_end, steps=n, dt=-dt if reverse else dt,
                          edge_id=lay.edge_id, src=lay.src, des=lay.des, kind_ranges=tuple(ranges),
                          params=tuple(params), coef=coef, coef_fmt=coef_fmt,
                          update_shift=acc_frac + coef_fmt.frac_bits - integ.frac_bits, acc_bound=node_bound))
    acc = exact_format(-acc_max, acc_max, acc_frac)
    windows = tuple(WindowProgram(**b) for b in built)
    if reverse:
        windows = windows[::-1]
    prog = Program(circuit.name, circuit.digest, circuit.n_nodes, circuit.inputs,
                   circuit.outputs, reverse, read, integ, config.read_feedback, acc, tuple(kind_progs), windows, table,
                   tuple(sorted(saturations.items())), _input_columns(circuit))
    prog.check_widths()
    return prog


def _input_columns(circuit: Circuit) -> tuple[int, ...]:
    """The data column of each input node; () when the data maps onto the input nodes in order."""
    _, cols = input_map(circuit)
    return () if circuit.fill is Fill.ZEROS else tuple(int(c) for c in cols)


def steps_for(circuit: Circuit, dt: float) -> tuple[int, ...]:
    """Steps per window for a target step size: ceil(duration / dt), at least 1."""
    return tuple(max(1, math.ceil(w.duration / dt - 1e-9)) for w in circuit.windows)

"""tanh as a shared piecewise-linear table (both interpreters read the same integers).

The table covers |x| in [0, x_max) with `segments` equal segments of width
h = x_max / segments (a power of two, so the segment index is the top bits of
|x|). Segment j on [x_j, x_j + h] is the line A_j + B_j * t / 2**tb with t
the low `tb` bits of |x|: B_j is the chord rise tanh(x_j + h) - tanh(x_j)
and A_j is tanh(x_j) lifted by half the chord's largest gap (tanh is concave
on x >= 0, so the chord lies below it), which halves the worst error
(segment 0 is not lifted, so tanh(0) = 0 exactly). Every
entry is rounded half-up to `out_frac` fraction bits from 60-bit mpmath
values, so the table is the same on every machine; A_j + B_j is capped at
1 - 2**-out_frac so the output fits an unsigned Q0.out_frac word. The sign is
applied after the lookup (odd symmetry), and |x| >= x_max clamps to the last
code.

Integer evaluation of a signed argument z with `arg_frac` fraction bits:

    a   = min(|z|, x_max * 2**arg_frac - 1)
    j   = a >> tb,  t = a & (2**tb - 1),  tb = arg_frac - log2(segments / x_max)
    y   = A_j + ((B_j * t + 2**(tb-1)) >> tb)          (round half-up)
    out = -y if z < 0 else y

`max_error` is measured exhaustively over every code and includes the clamp.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from kgen.errors import InputError, expected_found

from kgen.qformat import QFormat, Rounding, shift_round_array
from kgen.quant import TanhSpec


@dataclass(frozen=True, eq=False)
class TanhTable:
    spec: TanhSpec
    base: np.ndarray  # int64 (segments,): A_j
    rise: np.ndarray  # int64 (segments,): B_j
    max_error: float  # max over all |z| of |table(z) - tanh(z)|, argument rounding excluded

    @property
    def max_error_with_rounding(self) -> float:
        """Error bound for an argument that is rounded to arg_frac bits first (tanh is 1-Lipschitz)."""
        return self.max_error + 2.0 ** -(self.spec.arg_frac + 1)

    @functools.cached_property
    def segment_error(self) -> np.ndarray:
        """(segments,) max |table - tanh| over each segment's codes, measured exhaustively like
        `max_error` (the last segment also covers the clamp beyond x_max); the error bound uses it
        where an argument is known to lie in a few segments."""
        s = self.spec
        per = 1 << s.seg_shift  # codes per segment
        err = np.empty(s.segments)
        for lo in range(0, s.segments, 128):  # 128 segments (1M codes) at a time
            codes = np.arange(lo * per, min(s.segments, lo + 128) * per, dtype=np.int64)
            y = np.ldexp(self.eval_codes(codes).astype(np.float64), -s.out_frac)
            e = np.abs(y - np.tanh(np.ldexp(codes.astype(np.float64), -s.arg_frac)))
            err[lo:lo + len(codes) // per] = e.reshape(-1, per).max(1)
        last = np.ldexp(float(self.eval_codes(np.array([(s.x_max << s.arg_frac) - 1]))[0]), -s.out_frac)
        # |z| >= x_max reads the last code: within its error plus tanh' (< 1e-6) x one code of tanh(x_max), or 1 - last
        err[-1] = max(err[-1] + 1e-12, abs(1.0 - last))
        err += 1e-15  # float64 tanh
        err.setflags(write=False)
        return err

    @functools.cached_property
    def base32(self) -> np.ndarray:
        return self.base.astype(np.int32)

    @functools.cached_property
    def rise32(self) -> np.ndarray:
        return self.rise.astype(np.int32)

    @property
    def narrow(self) -> bool:
        """Whether every lookup intermediate fits int32 (codes, rise * t, the output)."""
        s = self.spec
        return (s.x_max << s.arg_frac) < 2 ** 31 and (int(self.rise.max()) + 1) << s.seg_shift < 2 ** 31 \
            and s.out_frac < 30

    def eval_codes(self, a: np.ndarray) -> np.ndarray:
        """Output magnitude (raw, out_frac) for clamped magnitude codes a (arg_frac), in a's dtype."""
        tb = self.spec.seg_shift
        j = np.right_shift(a, tb)
        t = a & a.dtype.type((1 << tb) - 1)
        base, rise = (self.base32, self.rise32) if a.dtype == np.int32 else (self.base, self.rise)
        y = rise[j] * t
        y += a.dtype.type(1 << (tb - 1))
        np.right_shift(y, tb, out=y)
        y += base[j]
        return y

    def eval_raw(self, z: np.ndarray, z_frac: int) -> np.ndarray:
        """tanh of signed raw z (z_frac fraction bits) as raw out_frac integers (int32 when narrow, else int64)."""
        s = self.spec
        z = np.asarray(z)
        if z.dtype != np.int32:
            z = z.astype(np.int64, copy=False)
        a = shift_round_array(np.abs(z), z_frac - s.arg_frac, Rounding.HALF_UP)
        np.minimum(a, a.dtype.type((s.x_max << s.arg_frac) - 1), out=a)
        if self.narrow:
            a = a.astype(np.int32, copy=False)
        elif a.dtype != np.int64:
            a = a.astype(np.int64)
        y = self.eval_codes(a)
        np.negative(y, out=y, where=z < 0)
        return y

    def eval_int(self, z: int, z_frac: int) -> int:
        """Scalar Python-int evaluation (the same steps, for cross-checks and the HDL's tests)."""
        s = self.spec
        a = abs(int(z))
        shift = z_frac - s.arg_frac
        if shift > 0:
            a = (a + (1 << (shift - 1))) >> shift
        else:
            a <<= -shift
        a = min(a, (s.x_max << s.arg_frac) - 1)
        tb = s.seg_shift
        j, t = a >> tb, a & ((1 << tb) - 1)
        y = int(self.base[j]) + ((int(self.rise[j]) * t + (1 << (tb - 1))) >> tb)
        return -y if z < 0 else y


def _round_half_up(x, frac: int) -> int:
    import mpmath

    return int(mpmath.floor(x * mpmath.mpf(2) ** frac + mpmath.mpf(1) / 2))


@functools.lru_cache(maxsize=8)
def build_table(spec: TanhSpec = TanhSpec()) -> TanhTable:
    import mpmath

    with mpmath.workprec(60):
        h = mpmath.mpf(spec.x_max) / spec.segments
        cap = (1 << spec.out_frac) - 1
        base = np.empty(spec.segments, np.int64)
        rise = np.empty(spec.segments, np.int64)
        for j in range(spec.segments):
            x0 = j * h
            y0, y1 = mpmath.tanh(x0), mpmath.tanh(x0 + h)
            slope = (y1 - y0) / h
            # the chord's largest gap is where tanh' = slope: sech^2(x*) = slope
            xs = mpmath.acosh(1 / mpmath.sqrt(slope))
            gap = mpmath.tanh(xs) - (y0 + slope * (xs - x0)) if x0 < xs < x0 + h else mpmath.mpf(0)
            # segment 0 is not lifted, so tanh(0) = 0 exactly (its gap is below 2**-22 anyway)
            a = _round_half_up(y0 + (gap / 2 if j else 0), spec.out_frac)
            b = _round_half_up(y1 - y0, spec.out_frac)
            a = min(a, cap)
            b = min(b, cap - a)
            base[j], rise[j] = a, b
    base.setflags(write=False)
    rise.setflags(write=False)
    table = TanhTable(spec, base, rise, 0.0)
    # exhaustive error over every magnitude code, plus the clamp beyond x_max
    codes = np.arange(spec.x_max << spec.arg_frac, dtype=np.int64)
    err = 0.0
    for chunk in np.array_split(codes, max(1, codes.size // (1 << 20))):
        y = np.ldexp(table.eval_codes(chunk).astype(np.float64), -spec.out_frac)
        x = np.ldexp(chunk.astype(np.float64), -spec.arg_frac)
        err = max(err, float(np.max(np.abs(y - np.tanh(x)))))
    last = np.ldexp(float(table.eval_codes(codes[-1:])[0]), -spec.out_frac)
    err = max(err, abs(1.0 - last))  # |z| >= x_max: tanh(z) in (tanh(x_max), 1)
    # float64 evaluation of tanh is within 1e-16: add it so the bound stays a bound
    return TanhTable(spec, base, rise, err + 1e-15)

"""QFormat: one fixed-point format, shared by the bit-exact model and the HDL generator.

A format is a word of `width = int_bits + frac_bits` bits read as the integer
`raw` times `2**-frac_bits`. For a signed format the sign bit is counted in
`int_bits` (so s18 with 7 integer bits is written `s7.11` and spans [-64, 64));
an unsigned format spans [0, 2**int_bits). Either count may be negative (a
format for small constants has negative integer bits, one for large sums
negative fraction bits) as long as the width is at least 1.

Every operation works on raw integers only: rounding is an arithmetic shift
(truncate = floor; half-up = floor(x + 1/2); half-even adds the carry from the
dropped bits and the last kept bit), overflow either saturates or wraps. Each
operation exists twice, on Python ints (exact, any size) and on NumPy int64
arrays (vectorised; the caller keeps values at 63 bits or fewer, see
`MAX_WIDTH`). Both return a flag of where overflow handling changed a value,
so callers can count saturations, never lose them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from kgen.errors import InputError, expected_found

#: Widest signed intermediate the NumPy interpreter allows (int64 with one bit of headroom).
MAX_WIDTH = 63


class Rounding(enum.Enum):
    TRUNCATE = "truncate"  # floor (toward -inf): an arithmetic shift right
    HALF_UP = "half_up"  # floor(x + 1/2)
    HALF_EVEN = "half_even"  # nearest, ties to the even neighbour


class Overflow(enum.Enum):
    SATURATE = "saturate"
    WRAP = "wrap"  # two's complement (mod 2**width)


def _shift_round_int(raw: int, shift: int, rounding: Rounding) -> int:
    """raw * 2**-shift rounded to an integer (shift > 0), integer ops only."""
    if rounding is Rounding.TRUNCATE:
        return raw >> shift
    if rounding is Rounding.HALF_UP:
        return (raw + (1 << (shift - 1))) >> shift
    q = raw >> shift
    rem = raw - (q << shift)
    half = 1 << (shift - 1)
    return q + (1 if rem > half or (rem == half and q & 1) else 0)


def shift_round_array(raw: np.ndarray, shift: int, rounding: Rounding) -> np.ndarray:
    """NumPy version of the rounding shift; `raw` is int32 or int64, result has its dtype."""
    raw = np.asarray(raw)
    if shift <= 0:
        return np.left_shift(raw, -shift)
    bits = raw.dtype.itemsize * 8
    if shift >= bits:
        # every bit shifted out (NumPy's shift by >= the width is undefined, and 1 << (shift - 1) does not fit):
        # floor is 0 or -1, and rounding |raw| < 2^(bits-1) <= 2^(shift-1) to nearest is 0 in both modes
        return np.right_shift(raw, bits - 1) if rounding is Rounding.TRUNCATE else np.zeros_like(raw)
    if rounding is Rounding.TRUNCATE:
        return np.right_shift(raw, shift)
    if rounding is Rounding.HALF_UP:
        return np.right_shift(raw + raw.dtype.type(1 << (shift - 1)), shift)
    q = np.right_shift(raw, shift)
    rem = raw - np.left_shift(q, shift)
    half = raw.dtype.type(1 << (shift - 1))
    up = (rem > half) | ((rem == half) & ((q & 1) == 1))
    return q + up.astype(raw.dtype)


@dataclass(frozen=True)
class QFormat:
    """A fixed-point format: signedness, integer and fraction bits, rounding and overflow rule."""

    signed: bool
    int_bits: int
    frac_bits: int
    rounding: Rounding = Rounding.HALF_UP
    overflow: Overflow = Overflow.SATURATE

    def __post_init__(self):
        object.__setattr__(self, "int_bits", int(self.int_bits))
        object.__setattr__(self, "frac_bits", int(self.frac_bits))
        object.__setattr__(self, "rounding", Rounding(self.rounding))
        object.__setattr__(self, "overflow", Overflow(self.overflow))
        if self.width < 1:
            raise InputError(expected_found("fixed-point format", "a width of at least 1 bit",
                                            f"{self.int_bits} integer + {self.frac_bits} fraction bits"))

    # -- shape ------------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.int_bits + self.frac_bits

    @property
    def min_raw(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> Fraction:
        return Fraction(1, 1 << self.frac_bits) if self.frac_bits >= 0 else Fraction(1 << -self.frac_bits)

    @property
    def min_value(self) -> Fraction:
        return self.min_raw * self.lsb

    @property
    def max_value(self) -> Fraction:
        return self.max_raw * self.lsb

    @property
    def max_rounding_error(self) -> Fraction:
        """Largest |rounded - exact| of one rounding into this format (no overflow)."""
        return self.lsb if self.rounding is Rounding.TRUNCATE else self.lsb / 2

    def with_rules(self, rounding: Rounding | None = None, overflow: Overflow | None = None) -> QFormat:
        return replace(self, rounding=rounding or self.rounding, overflow=overflow or self.overflow)

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.int_bits}.{self.frac_bits}"

    @property
    def spec(self) -> str:
        """Round-trippable text: `s7.11:half_up:saturate`."""
        return f"{self}:{self.rounding.value}:{self.overflow.value}"

    def describe(self) -> str:
        lo, hi = float(self.min_value), float(self.max_value)
        return f"{self} ({self.width} bits, [{lo:.6g}, {hi:.6g}], lsb 2^{-self.frac_bits})"

    @classmethod
    def parse(cls, text: str) -> QFormat:
        """`s7.11`, `u0.16`, optionally `:rounding:overflow` (e.g. `s7.25:half_even:wrap`)."""
        m = re.fullmatch(r"\s*([su])(-?\d+)\.(-?\d+)(?::(\w+))?(?::(\w+))?\s*", text)
        if not m:
            raise InputError(expected_found("fixed-point format", "sI.F or uI.F (e.g. s7.11), optionally "
                                            ":rounding:overflow", repr(text)))
        kwargs = {}
        try:
            if m.group(4):
                kwargs["rounding"] = Rounding(m.group(4))
            if m.group(5):
                kwargs["overflow"] = Overflow(m.group(5))
        except ValueError:
            raise InputError(expected_found(f"rules of format {text!r}", "rounding truncate|half_up|half_even and "
                                            "overflow saturate|wrap", f"{m.group(4)!r}, {m.group(5)!r}")) from None
        return cls(m.group(1) == "s", int(m.group(2)), int(m.group(3)), **kwargs)

    def to_dict(self) -> dict:
        return {"signed": self.signed, "int_bits": self.int_bits, "frac_bits": self.frac_bits,
                "rounding": self.rounding.value, "overflow": self.overflow.value}

    @classmethod
    def from_dict(cls, d: dict) -> QFormat:
        try:
            return cls(bool(d["signed"]), int(d["int_bits"]), int(d["frac_bits"]), Rounding(d["rounding"]),
                       Overflow(d["overflow"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(expected_found("fixed-point format", "signed, int_bits, frac_bits, rounding, overflow",
                                            f"{d!r} ({exc})")) from None

    # -- scalar (Python int) operations ---------------------------------------------
    def fits(self, raw: int) -> bool:
        return self.min_raw <= raw <= self.max_raw

    def fit(self, raw: int) -> tuple[int, bool]:
        """Apply the overflow rule: (raw in range, whether it changed)."""
        if self.fits(raw):
            return raw, False
        if self.overflow is Overflow.SATURATE:
            return (self.max_raw if raw > self.max_raw else self.min_raw), True
        return ((raw - self.min_raw) & ((1 << self.width) - 1)) + self.min_raw, True

    def rescale(self, raw: int, from_frac: int) -> tuple[int, bool]:
        """raw * 2**-from_frac as this format: exact left shift or rounding right shift, then overflow."""
        shift = from_frac - self.frac_bits
        raw = raw << -shift if shift <= 0 else _shift_round_int(raw, shift, self.rounding)
        return self.fit(raw)

    def quantize(self, value) -> tuple[int, bool]:
        """An exact number (int, Fraction or float) rounded into this format."""
        x = Fraction(value) * (Fraction(1 << self.frac_bits) if self.frac_bits >= 0
                               else Fraction(1, 1 << -self.frac_bits))
        q = x.numerator // x.denominator  # floor
        rem = x - q
        if self.rounding is Rounding.HALF_UP:
            q += rem >= Fraction(1, 2)
        elif self.rounding is Rounding.HALF_EVEN:
            q += rem > Fraction(1, 2) or (rem == Fraction(1, 2) and q & 1)
        return self.fit(int(q))

    def value(self, raw: int) -> Fraction:
        return raw * self.lsb

    def add(self, a: int, fa: int, b: int, fb: int) -> tuple[int, bool]:
        f = max(fa, fb)
        return self.rescale((a << (f - fa)) + (b << (f - fb)), f)

    def sub(self, a: int, fa: int, b: int, fb: int) -> tuple[int, bool]:
        f = max(fa, fb)
        return self.rescale((a << (f - fa)) - (b << (f - fb)), f)

    def mul(self, a: int, fa: int, b: int, fb: int) -> tuple[int, bool]:
        return self.rescale(a * b, fa + fb)

    def neg(self, a: int, fa: int) -> tuple[int, bool]:
        return self.rescale(-a, fa)

    # -- NumPy (int64) operations -------------------------------------------------------
    def fit_array(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Overflow rule on an int64 array: (result, bool mask of changed elements)."""
        raw = np.asarray(raw, dtype=np.int64)
        lo, hi = self.min_raw, self.max_raw
        bad = (raw < lo) | (raw > hi)
        if not bad.any():
            return raw, bad
        if self.overflow is Overflow.SATURATE:
            return np.clip(raw, lo, hi), bad
        mask = np.int64((1 << self.width) - 1) if self.width < 64 else np.int64(-1)
        return ((raw - np.int64(lo)) & mask) + np.int64(lo), bad

    def rescale_array(self, raw: np.ndarray, from_frac: int) -> tuple[np.ndarray, np.ndarray]:
        raw = np.asarray(raw, dtype=np.int64)
        return self.fit_array(shift_round_array(raw, from_frac - self.frac_bits, self.rounding))

    def quantize_array(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Float64 values rounded exactly into this format (float scaling by 2**f is exact)."""
        y = np.ldexp(np.asarray(x, dtype=np.float64), self.frac_bits)
        if not np.all(np.isfinite(y)):
            raise InputError(expected_found("values to quantize", "finite numbers", "NaN or Inf"))
        fl = np.floor(y)
        rem = y - fl  # exact: fl and y share the exponent range
        if self.rounding is Rounding.HALF_UP:
            fl = fl + (rem >= 0.5)
        elif self.rounding is Rounding.HALF_EVEN:
            fl = fl + ((rem > 0.5) | ((rem == 0.5) & (np.fmod(fl, 2) != 0)))
        big = np.abs(fl) >= 2.0 ** 62
        if big.any():  # beyond int64: exact Python ints for those elements
            out = np.empty(fl.shape, dtype=np.int64)
            flags = np.zeros(fl.shape, dtype=bool)
            flat_out, flat_flags = out.reshape(-1), flags.reshape(-1)
            for k, v in enumerate(fl.reshape(-1)):
                flat_out[k], flat_flags[k] = self.fit(int(v))
            return out, flags
        return self.fit_array(fl.astype(np.int64))

    def values(self, raw: np.ndarray) -> np.ndarray:
        """Raw integers as float64 (exact while |raw| < 2**53)."""
        return np.ldexp(np.asarray(raw, dtype=np.float64), -self.frac_bits)

    def add_array(self, a, fa: int, b, fb: int):
        f = max(fa, fb)
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        return self.rescale_array(np.left_shift(a, f - fa) + np.left_shift(b, f - fb), f)

    def sub_array(self, a, fa: int, b, fb: int):
        f = max(fa, fb)
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        return self.rescale_array(np.left_shift(a, f - fa) - np.left_shift(b, f - fb), f)

    def mul_array(self, a, fa: int, b, fb: int):
        return self.rescale_array(np.asarray(a, dtype=np.int64) * np.asarray(b, dtype=np.int64), fa + fb)

    def neg_array(self, a, fa: int):
        return self.rescale_array(-np.asarray(a, dtype=np.int64), fa)


def signed_bits(lo: int, hi: int) -> int:
    """Fewest two's-complement bits holding every integer in [lo, hi]."""
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


def exact_format(lo: int, hi: int, frac_bits: int) -> QFormat:
    """The narrowest signed format with `frac_bits` holding raw values in [lo, hi] (no rounding needed)."""
    w = signed_bits(lo, hi)
    return QFormat(True, w - frac_bits, frac_bits, Rounding.TRUNCATE, Overflow.WRAP)


def fit_format(max_abs: float, width: int, signed: bool = True, **rules) -> QFormat:
    """The format of `width` bits with the most fraction bits whose range holds +-max_abs."""
    m = Fraction(abs(float(max_abs)))

    def holds(int_bits: int) -> bool:
        f = QFormat(signed, int_bits, width - int_bits)
        return f.max_value >= m and (not signed or -f.min_value >= m)

    # start a little above log2(max_abs) (or at 1 bit for zero), then loosen / tighten one bit at a time
    int_bits = (m.numerator.bit_length() - m.denominator.bit_length() + 3) if m > 0 else 1
    while not holds(int_bits):
        int_bits += 1
    while m > 0 and holds(int_bits - 1):
        int_bits -= 1
    return QFormat(signed, int_bits, width - int_bits, **rules)

"""Property tests: every QFormat operation against exact Fraction arithmetic (hypothesis).

The reference here is written independently of emulation.qformat: rounding
by math.floor on Fractions, overflow by explicit clipping or modular
reduction. Each operation is checked on Python ints and on NumPy int64 arrays.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kgen.qformat import Overflow, QFormat, Rounding, fit_format, shift_round_array
from kgen.errors import InputError

settings.register_profile("kgen", max_examples=300, deadline=None)
settings.load_profile("kgen")


@st.composite
def formats(draw, max_width=40):
    signed = draw(st.booleans())
    width = draw(st.integers(2 if signed else 1, max_width))
    int_bits = draw(st.integers(-6, width + 6))
    return QFormat(signed, int_bits, width - int_bits, draw(st.sampled_from(list(Rounding))),
                   draw(st.sampled_from(list(Overflow))))


def ref_round(x: Fraction, rounding: Rounding) -> int:
    """x rounded to an integer, from the definition."""
    if rounding is Rounding.TRUNCATE:
        return math.floor(x)
    if rounding is Rounding.HALF_UP:
        return math.floor(x + Fraction(1, 2))
    lo = math.floor(x)
    if x - lo > Fraction(1, 2):
        return lo + 1
    if x - lo < Fraction(1, 2):
        return lo
    return lo if lo % 2 == 0 else lo + 1


def ref_cast(value: Fraction, fmt: QFormat) -> tuple[int, bool]:
    """value into fmt: round on fmt's grid, then saturate or wrap; (raw, overflowed)."""
    raw = ref_round(value / Fraction(2) ** -fmt.frac_bits, fmt.rounding)
    w = fmt.int_bits + fmt.frac_bits
    lo = -(2 ** (w - 1)) if fmt.signed else 0
    hi = 2 ** (w - 1) - 1 if fmt.signed else 2 ** w - 1
    if lo <= raw <= hi:
        return raw, False
    if fmt.overflow is Overflow.SATURATE:
        return min(max(raw, lo), hi), True
    return (raw - lo) % 2 ** w + lo, True


def val(raw: int, frac: int) -> Fraction:
    return Fraction(raw) * Fraction(2) ** -frac


raws = st.integers(-(2 ** 40), 2 ** 40)


def in_int64(exact: int, frac: int, fmt: QFormat) -> bool:
    """Whether the NumPy path's intermediates (exact value, shifted to fmt's grid) stay below 2**62:
    the array operations are specified only for values of at most 63 bits (the width checker's limit)."""
    shifted = exact << max(0, fmt.frac_bits - frac)
    return max(abs(exact), abs(shifted)) < 2 ** 62
fracs = st.integers(-8, 30)


@given(formats(), raws, fracs)
def test_rescale(fmt, raw, frac):
    expect = ref_cast(val(raw, frac), fmt)
    assert fmt.rescale(raw, frac) == expect
    if in_int64(raw, frac, fmt):
        got, flag = fmt.rescale_array(np.array([raw], np.int64), frac)
        assert (int(got[0]), bool(flag[0])) == expect


@given(formats(), raws, fracs, raws, fracs)
def test_add_sub(fmt, a, fa, b, fb):
    assume(abs(fa - fb) < 20)
    assert fmt.add(a, fa, b, fb) == ref_cast(val(a, fa) + val(b, fb), fmt)
    assert fmt.sub(a, fa, b, fb) == ref_cast(val(a, fa) - val(b, fb), fmt)
    f = max(fa, fb)
    aligned = max(abs(a << (f - fa)), abs(b << (f - fb)))
    if in_int64(2 * aligned, f, fmt):
        arr = lambda v: np.array([v], np.int64)  # noqa: E731
        for got, expect in ((fmt.add_array(arr(a), fa, arr(b), fb), fmt.add(a, fa, b, fb)),
                            (fmt.sub_array(arr(a), fa, arr(b), fb), fmt.sub(a, fa, b, fb))):
            assert (int(got[0][0]), bool(got[1][0])) == expect


@given(formats(), st.integers(-(2 ** 30), 2 ** 30), fracs, st.integers(-(2 ** 30), 2 ** 30), fracs)
def test_mul_neg(fmt, a, fa, b, fb):
    assert fmt.mul(a, fa, b, fb) == ref_cast(val(a, fa) * val(b, fb), fmt)
    assert fmt.neg(a, fa) == ref_cast(-val(a, fa), fmt)
    if in_int64(a * b, fa + fb, fmt):
        got, flag = fmt.mul_array(np.array([a]), fa, np.array([b]), fb)
        assert (int(got[0]), bool(flag[0])) == fmt.mul(a, fa, b, fb)
    if in_int64(a, fa, fmt):
        got, flag = fmt.neg_array(np.array([a]), fa)
        assert (int(got[0]), bool(flag[0])) == fmt.neg(a, fa)


@given(formats(), st.fractions(max_denominator=2 ** 20).filter(lambda f: abs(f) < 2 ** 30))
def test_quantize_fraction(fmt, x):
    assert fmt.quantize(x) == ref_cast(x, fmt)


@given(formats(max_width=50), st.floats(-1e6, 1e6, allow_nan=False))
def test_quantize_float_exact(fmt, x):
    expect = ref_cast(Fraction(x), fmt)
    assert fmt.quantize(x) == expect
    got, flag = fmt.quantize_array(np.array([x]))
    assert (int(got[0]), bool(flag[0])) == expect


@given(formats(), raws)
def test_fit(fmt, raw):
    expect = ref_cast(Fraction(raw) * Fraction(2) ** -fmt.frac_bits, fmt)
    assert fmt.fit(raw) == expect
    got, flag = fmt.fit_array(np.array([raw], np.int64))
    assert (int(got[0]), bool(flag[0])) == expect


@given(st.integers(-(2 ** 60), 2 ** 60), st.integers(1, 40), st.sampled_from(list(Rounding)))
def test_shift_round_int32_and_int64(raw, shift, rounding):
    expect = ref_round(Fraction(raw, 2 ** shift), rounding)
    assert int(shift_round_array(np.array([raw], np.int64), shift, rounding)[0]) == expect
    small = raw % (2 ** 30) - 2 ** 29
    if shift < 30:
        got = shift_round_array(np.array([small], np.int32), shift, rounding)
        assert got.dtype == np.int32 and int(got[0]) == ref_round(Fraction(small, 2 ** shift), rounding)


@given(formats())
def test_range_and_parse_round_trip(fmt):
    assert fmt.max_value - fmt.min_value == (2 ** fmt.width - 1) * fmt.lsb
    assert QFormat.parse(fmt.spec) == fmt
    assert QFormat.from_dict(fmt.to_dict()) == fmt


@given(st.floats(1e-6, 1e6), st.integers(4, 40))
def test_fit_format_holds_the_value_with_the_most_fraction_bits(peak, width):
    fmt = fit_format(peak, width)
    assert fmt.width == width and fmt.max_value >= Fraction(peak) and -fmt.min_value >= Fraction(peak)
    tighter = QFormat(True, fmt.int_bits - 1, fmt.frac_bits + 1)
    assert tighter.max_value < Fraction(peak)


def test_rounding_rules_on_ties():
    f = QFormat(True, 4, 0, Rounding.HALF_EVEN)
    assert [f.rescale(r, 1)[0] for r in (-5, -3, -1, 1, 3, 5)] == [-2, -2, 0, 0, 2, 2]
    f = QFormat(True, 4, 0, Rounding.HALF_UP)
    assert [f.rescale(r, 1)[0] for r in (-5, -3, -1, 1, 3, 5)] == [-2, -1, 0, 1, 2, 3]
    f = QFormat(True, 4, 0, Rounding.TRUNCATE)
    assert [f.rescale(r, 1)[0] for r in (-5, -3, -1, 1, 3, 5)] == [-3, -2, -1, 0, 1, 2]


def test_bad_formats_are_one_line_errors():
    for text in ("q7.11", "s7", "s7.11:round", "s7.11:half_up:clip"):
        with pytest.raises(InputError) as e:
            QFormat.parse(text)
        assert "\n" not in str(e.value)
    with pytest.raises(InputError):
        QFormat(True, 0, 0)


def test_array_rounding_shift_past_the_word_width_matches_the_integer_one():
    """Hypothesis found mul_array at a shift of 64 (fractions 30 + 30 into frac -4): every bit shifted out."""
    from kgen.qformat import _shift_round_int

    cases = ((np.int64, (0, 5, -5, -1, 2 ** 40, -2 ** 40, 2 ** 63 - 1, -2 ** 63), (64, 65, 100)),
             (np.int32, (0, 5, -5, -1, 2 ** 31 - 1, -2 ** 31), (32, 40)))
    for rounding in Rounding:
        for dtype, values, shifts in cases:
            for v in values:
                for s in shifts:
                    got = int(shift_round_array(np.array([v], dtype), s, rounding)[0])
                    assert got == _shift_round_int(v, s, rounding), (rounding, dtype, v, s)

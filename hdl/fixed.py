"""QFormat operations as Amaranth expressions (the HDL side of emulation.qformat).

Every value of the datapath is held as a *signed* Amaranth value: a signed
format of w bits is `signed(w)`, an unsigned one `signed(w + 1)` (so the two
kinds mix without Amaranth's unsigned/signed widening surprises). The
functions mirror `QFormat.rescale` / `fit` and `shift_round_array` bit for
bit: rounding is an arithmetic shift (truncate = floor, half-up =
floor(x + 1/2), half-even with the carry from the dropped bits), overflow
saturates or wraps. Slicing a signed value gives an unsigned one in
Amaranth, so every slice here is followed by `.as_signed()` where the sign
matters.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Shape, Value, signed

from kgen.qformat import Overflow, QFormat, Rounding


def hw_width(fmt: QFormat) -> int:
    """Bits of the signed container of a format's raw values."""
    return fmt.width + (0 if fmt.signed else 1)


def hw_shape(fmt: QFormat) -> Shape:
    return signed(hw_width(fmt))


def shift_round(value: Value, shift: int, rounding: Rounding) -> Value:
    """value * 2**-shift rounded to an integer (left shift when shift <= 0); `value` is signed."""
    value = Value.cast(value)
    if not value.shape().signed:
        value = value.as_signed() if len(value) else Const(0, signed(1))
    if shift <= 0:
        return value << -shift
    if rounding is Rounding.TRUNCATE:
        return value >> shift
    if rounding is Rounding.HALF_UP:
        return (value + (1 << (shift - 1))) >> shift
    # half-even: q = floor(v / 2^s), rem = low s bits (unsigned), half = 2^(s-1)
    if len(value) <= shift:  # sign-extend so the dropped bits exist
        value = Cat(value, value[-1].replicate(shift + 1 - len(value))).as_signed()
    q = value >> shift
    rem = value[:shift]  # unsigned slice: the dropped bits
    half = 1 << (shift - 1)
    up = (rem > half) | ((rem == half) & q[0])
    return q + up


def fit(value: Value, fmt: QFormat) -> tuple[Value, Value]:
    """The overflow rule of `fmt` on a signed value: (result in hw_shape(fmt), changed flag)."""
    value = Value.cast(value)
    lo, hi = fmt.min_raw, fmt.max_raw
    over = value > hi
    under = value < lo
    if fmt.overflow is Overflow.SATURATE:
        result = Mux(over, Const(hi, hw_shape(fmt)), Mux(under, Const(lo, hw_shape(fmt)), value))
    else:
        low = value[:fmt.width]  # two's complement: keep the low bits
        if fmt.signed:
            result = low.as_signed()
        else:
            result = Cat(low, Const(0, 1)).as_signed()
    return result, over | under


def rescale(value: Value, from_frac: int, fmt: QFormat) -> tuple[Value, Value]:
    """QFormat.rescale: raw with `from_frac` fraction bits into `fmt` (round, then overflow rule)."""
    return fit(shift_round(value, from_frac - fmt.frac_bits, fmt.rounding), fmt)


def align(value: Value, from_frac: int, to_frac: int) -> Value:
    """Exact left shift from `from_frac` to `to_frac` >= from_frac fraction bits."""
    if to_frac < from_frac:
        raise ValueError(f"align cannot drop bits ({from_frac} -> {to_frac})")
    return Value.cast(value) << (to_frac - from_frac)

"""Numbers as netlist text: shortest round-trip decimal, plain exponents, never SI suffixes.

`repr(float)` is the shortest string that reads back to the same double
(at most 17 significant digits) and uses a plain `e` exponent, so `1e-05`
can never be misread as a SPICE scale suffix (`M` is milli in SPICE).
"""

from __future__ import annotations

import math

import numpy as np

from kgen.errors import CircuitError, expected_found


def num(x: float, what: str = "value") -> str:
    """One finite number as text; a non-finite one is a CircuitError naming `what`."""
    x = float(x)
    if not math.isfinite(x):
        raise CircuitError(expected_found(what, "a finite number", repr(x)))
    return repr(x)


def operand(text: str) -> str:
    """A printed number made safe to substitute into an expression: negatives in parentheses."""
    return f"({text})" if text.startswith("-") else text


def check_finite(values: np.ndarray, what: str) -> None:
    """Raise a CircuitError naming the first non-finite entry of `values`."""
    values = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values.ravel()))
    if bad.size:
        raise CircuitError(expected_found(what, "finite numbers", repr(float(values.ravel()[bad[0]]))))


def texts(values: np.ndarray) -> list[str]:
    """Many numbers at once (already checked finite): Python floats' repr, element by element."""
    return [repr(v) for v in np.asarray(values, dtype=np.float64).ravel().tolist()]

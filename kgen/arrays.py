"""Reading and writing the .npy arrays users pass to kgen (`--inputs`, `--data`).

An input file must be exactly what the command needs: a NumPy .npy file
holding a 2-D (batch, width) array of real floating-point numbers, all
finite. The header is read and checked before any data is (a header claiming
more data than the file holds is refused, not allocated), nothing is ever
unpickled, and every refusal is kgen's own one line.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import numpy as np

from .errors import InputError, expected_found
from .fsutil import atomic_write_bytes


def _header(fh, what: str):
    """(shape, fortran order, dtype) of an .npy file, or a one-line InputError."""
    try:
        version = np.lib.format.read_magic(fh)
    except ValueError:
        raise InputError(expected_found(what, "a NumPy .npy file (np.save)", "a file that is not one")) from None
    try:
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh, max_header_size=1 << 16)
        if version in ((2, 0), (3, 0)):
            return np.lib.format.read_array_header_2_0(fh, max_header_size=1 << 16)
    except (ValueError, TypeError, SyntaxError, UnicodeDecodeError, tokenize.TokenError, EOFError, OverflowError):
        # NumPy parses the header as a Python literal: a damaged one fails in any of these ways
        raise InputError(expected_found(what, "a NumPy .npy file (np.save)", "a damaged .npy header")) from None
    raise InputError(expected_found(what, "a NumPy .npy file of format 1, 2 or 3", f"format {version}"))


def read_array(path: str | Path, what: str) -> np.ndarray:
    """A .npy array whose header is checked before its data is read (never unpickled)."""
    path = Path(path)
    if not path.exists():
        raise InputError(expected_found(what, "an existing .npy file", f"no file {path}"))
    if not path.is_file():
        raise InputError(expected_found(what, "a .npy file", "a directory" if path.is_dir() else "not a file"))
    try:
        with open(path, "rb") as fh:
            shape, fortran, dtype = _header(fh, what)
            offset = fh.tell()
            if dtype.hasobject:
                raise InputError(expected_found(what, "an array of numbers", "Python objects (kgen never unpickles)"))
            need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
            have = path.stat().st_size - offset
            if need > have:
                raise InputError(expected_found(what, f"{need} bytes of data for shape {shape} {dtype}",
                                                f"{have} (the file is truncated or its header wrong)"))
            fh.seek(0)
            return np.load(io.BytesIO(fh.read(offset + need)), allow_pickle=False)
    except OSError as exc:
        raise InputError(expected_found(what, "a readable .npy file", exc.strerror or type(exc).__name__)) from None


def read_inputs(path: str | Path, width: int) -> np.ndarray:
    """A (batch, width) float64 array of finite values from a .npy file."""
    what = f"inputs {path}"
    arr = read_array(path, what)
    if not np.issubdtype(arr.dtype, np.floating):
        hint = " (convert with x.astype(float))" if np.issubdtype(arr.dtype, np.integer) else ""
        raise InputError(expected_found(what, "an array of real floating-point numbers", f"dtype {arr.dtype}{hint}"))
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] == 0:
        hint = f" (one input is an array of shape (1, {width}))" if arr.ndim == 1 else ""
        raise InputError(expected_found(what, f"shape (batch, {width})", f"shape {arr.shape}{hint}"))
    if not np.all(np.isfinite(arr)):
        raise InputError(expected_found(what, "finite values", "NaN or Inf"))
    return arr.astype(np.float64)


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def write_array(path: str | Path, arr: np.ndarray) -> None:
    atomic_write_bytes(path, npy_bytes(arr))

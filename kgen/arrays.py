"""Reading and writing the .npy arrays users pass to `kgen run`."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .errors import InputError, expected_found
from .fsutil import atomic_write_bytes


def read_inputs(path: str | Path, width: int) -> np.ndarray:
    """A (batch, width) float64 array from a .npy file; a single (width,) vector is a batch of one."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(expected_found("inputs", "an existing .npy file", f"no file {path}")) from None
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(expected_found(f"inputs {path}", "a .npy array", str(exc).splitlines()[0])) from None
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise InputError(expected_found(f"inputs {path}", "a numeric array", f"dtype {getattr(arr, 'dtype', type(arr))}"))
    if arr.ndim == 1 and arr.shape[0] == width:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] == 0:
        raise InputError(expected_found(f"inputs {path}", f"shape (batch, {width})", f"shape {arr.shape}"))
    if not np.all(np.isfinite(arr)):
        raise InputError(expected_found(f"inputs {path}", "finite values", "NaN or Inf"))
    return arr.astype(np.float64)


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def write_array(path: str | Path, arr: np.ndarray) -> None:
    atomic_write_bytes(path, npy_bytes(arr))

"""The one trace format: per-step, per-node states of any view in one .npz schema.

Members (S steps, B samples, N nodes):

    schema       "kgen.trace/1"
    source       "fixed", "float", "rtl", "spice", ...
    method       e.g. "euler", "dopri5"
    digest       the circuit digest
    fixed_step   True when t is the solver's own step grid (step-by-step comparable)
    t            (S,) float64 times (decreasing for reversed runs)
    window       (S,) int64 circuit window of each state
    v            (S, B, N) float64 node voltages
    flags        (S, B, N) uint8: 1 accumulator overflow, 2 saturation, 4 read-copy saturation
  fixed point only:
    raw          (S, B, N) int64 integrator words
    fmt_signed, fmt_int_bits, fmt_frac_bits   (N,) per-node format of `raw`
    bound        (S, B, N) float64, optional: derived bound on |v - float Euler|

Written deterministically (fixed member order, no timestamps) and atomically.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, expected_found
from .fsutil import atomic_write_bytes

SCHEMA = "kgen.trace/1"
FLAG_NAMES = {1: "accumulator overflow", 2: "saturation", 4: "read-copy saturation"}


@dataclass(frozen=True, eq=False)
class Trace:
    t: np.ndarray
    v: np.ndarray  # (S, B, N)
    flags: np.ndarray  # (S, B, N) uint8
    window: np.ndarray
    source: str
    method: str
    digest: str = ""
    fixed_step: bool = True
    raw: np.ndarray | None = None
    fmt_signed: np.ndarray | None = None
    fmt_int_bits: np.ndarray | None = None
    fmt_frac_bits: np.ndarray | None = None
    bound: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        S = self.t.shape[0]
        if self.v.ndim != 3 or self.v.shape[0] != S:
            raise InputError(expected_found("trace states", f"shape ({S}, batch, nodes)", str(self.v.shape)))
        if self.flags.shape != self.v.shape:
            raise InputError(expected_found("trace flags", f"shape {self.v.shape}", str(self.flags.shape)))
        for name in ("raw", "bound"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != self.v.shape:
                raise InputError(expected_found(f"trace {name}", f"shape {self.v.shape}", str(arr.shape)))

    @property
    def n_steps(self) -> int:
        return int(self.t.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.v.shape[2])

    @property
    def is_fixed_point(self) -> bool:
        return self.raw is not None

    def format_of(self, node: int) -> str:
        """Node n's (0-based) format as text, or '' for float traces."""
        if self.fmt_frac_bits is None:
            return ""
        return f"{'s' if self.fmt_signed[node] else 'u'}{int(self.fmt_int_bits[node])}.{int(self.fmt_frac_bits[node])}"


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    arr = np.asarray(arr)
    np.lib.format.write_array(buf, arr if arr.ndim == 0 else np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _scalar(d: dict, key: str, default):
    if key not in d:
        return default
    return np.asarray(d[key]).reshape(-1)[0].item()


def trace_bytes(tr: Trace) -> bytes:
    members = [("schema", np.array(SCHEMA)), ("source", np.array(tr.source)), ("method", np.array(tr.method)),
               ("digest", np.array(tr.digest)), ("fixed_step", np.array(bool(tr.fixed_step))),
               ("t", tr.t.astype(np.float64)), ("window", tr.window.astype(np.int64)),
               ("v", tr.v.astype(np.float64)), ("flags", tr.flags.astype(np.uint8))]
    for name in ("raw", "fmt_signed", "fmt_int_bits", "fmt_frac_bits", "bound"):
        arr = getattr(tr, name)
        if arr is not None:
            members.append((name, arr))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, arr in members:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, _npy(arr))
    return buf.getvalue()


def write_trace(path: str | Path, tr: Trace) -> None:
    atomic_write_bytes(path, trace_bytes(tr))


def read_trace(path: str | Path) -> Trace:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            d = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise InputError(expected_found("trace", "an existing .npz file", f"no file {path}")) from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(expected_found(f"trace {path}", "a kgen trace .npz", str(exc).splitlines()[0])) from None
    if _scalar(d, "schema", None) != SCHEMA:
        raise InputError(expected_found(f"trace {path} schema", SCHEMA, repr(_scalar(d, "schema", None))))
    missing = [k for k in ("t", "v", "flags", "window", "source", "method") if k not in d]
    if missing:
        raise InputError(expected_found(f"trace {path}", "members t, v, flags, window, source, method",
                                        "no " + ", ".join(missing)))
    opt = {k: d.get(k) for k in ("raw", "fmt_signed", "fmt_int_bits", "fmt_frac_bits", "bound")}
    return Trace(d["t"], d["v"], d["flags"], d["window"], str(_scalar(d, "source", "")), str(_scalar(d, "method", "")),
                 str(_scalar(d, "digest", "")), bool(_scalar(d, "fixed_step", True)), **opt)


def float_trace(times: np.ndarray, states: np.ndarray, windows: np.ndarray, method: str, digest: str,
                fixed_step: bool) -> Trace:
    """A float trace from states (S, N, B)."""
    v = np.transpose(np.asarray(states, dtype=np.float64), (0, 2, 1))
    return Trace(np.asarray(times, np.float64), v, np.zeros(v.shape, np.uint8), np.asarray(windows, np.int64),
                 "float", method, digest, fixed_step)

"""The canonical edge layout of a window, shared by the lowering and the float references.

Edges of a window are grouped by device kind (in the circuit's kind order),
and inside a kind sorted by destination, then source, then edge index. The
order does not change any result (the integer sums wrap and are exact), but
one fixed order lets the float reference, the error bound and the lowered
program index the same edge with the same position. Each edge also carries
its canonical pieces (scale, w_src, w_des, bias) evaluated in float64 from
kgen.devices.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import sympy

from kgen.circuit import Circuit
from kgen.devices import DEVICE_KINDS, piece_functions

PIECES = ("scale", "w_src", "w_des", "bias")


@functools.lru_cache(maxsize=None)
def is_difference(kind: str) -> bool:
    """True when w_des == -w_src symbolically, so z = w_src * (v_src - v_des) + bias."""
    _, ws, wd, _ = DEVICE_KINDS[kind].pieces()
    return bool(sympy.simplify(ws + wd) == 0)


@functools.lru_cache(maxsize=None)
def constant_pieces(kind: str) -> dict[str, float | None]:
    """piece -> its constant value, or None where the piece depends on parameters."""
    out = {}
    for name, expr in zip(PIECES, DEVICE_KINDS[kind].pieces()):
        out[name] = float(expr) if expr.is_Number else None
    return out


@dataclass(frozen=True, eq=False)
class KindSegment:
    kind: str  # device kind name
    kind_index: int  # index into Circuit.kinds
    start: int
    stop: int
    pieces: dict  # piece name -> float64 (n,) values (constants broadcast)


@dataclass(frozen=True, eq=False)
class WindowEdges:
    window: int
    edge_id: np.ndarray  # circuit edge indices in canonical order
    src: np.ndarray
    des: np.ndarray
    segments: tuple[KindSegment, ...]

    @property
    def n_edges(self) -> int:
        return int(self.edge_id.size)


def window_edges(circuit: Circuit, w: int) -> WindowEdges:
    win = circuit.windows[w]
    kinds = circuit.edge_kind[win.edges]
    src, des = circuit.src[win.edges], circuit.des[win.edges]
    order = np.lexsort((win.edges, src, des, kinds))
    segments, start = [], 0
    for k in np.unique(kinds):
        cols = order[start:start + int(np.sum(kinds == k))]
        name = circuit.kinds[int(k)]
        rows = win.params[: DEVICE_KINDS[name].n_rows, cols]
        pieces = {}
        for pname, fn in zip(PIECES, piece_functions(name)):
            val = fn(*rows)
            pieces[pname] = np.broadcast_to(np.asarray(val, dtype=np.float64), (cols.size,)).copy()
        segments.append(KindSegment(name, int(k), start, start + cols.size, pieces))
        start += cols.size
    return WindowEdges(w, win.edges[order], src[order], des[order], tuple(segments))


def incidence(n_nodes: int, src: np.ndarray, des: np.ndarray, dtype=np.int64) -> sp.csr_matrix:
    """KCL as a sparse (N, E) matrix: +1 at the destination row, -1 at the source row (ground dropped)."""
    e = np.arange(src.size)
    rows = np.concatenate([des, src]) - 1
    cols = np.concatenate([e, e])
    vals = np.concatenate([np.ones(src.size, dtype), -np.ones(src.size, dtype)])
    keep = rows >= 0
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n_nodes, src.size), dtype=dtype)

"""Where the circuit's numbers sit: the canonical edge order, the KCL incidence, and the t = 0 state.

Every view computes the same equation, so every view lays a window's edges out
the same way: grouped by device kind (in the circuit's kind order), and inside
a kind sorted by destination, then source, then edge index. The order changes
no result (the integer sums wrap and are exact; float sums differ by rounding
only), but one fixed order lets the torch model, the float Euler reference,
the error bound, the lowered program and the HDL index the same edge at the
same position. Each edge also carries its canonical pieces (scale, w_src,
w_des, bias) evaluated in float64 from kgen.devices.

The inputs become the initial state in one place (`initial_state`), with the
original's fill rules: the data drives the circuit's input nodes; under
`fill: repeat` a first window wider than the data takes the data tiled
(node k gets column k mod width); every other node starts at 0 V.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .circuit import Circuit, Fill
from .devices import DEVICE_KINDS, PIECES, piece_functions
from .errors import InputError, expected_found


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
    columns: np.ndarray  # positions into the window's parameter columns, canonical order
    edge_id: np.ndarray  # circuit edge indices in canonical order
    src: np.ndarray
    des: np.ndarray
    segments: tuple[KindSegment, ...]

    @property
    def n_edges(self) -> int:
        return int(self.edge_id.size)


def window_edges(circuit: Circuit, w: int) -> WindowEdges:
    """Window w's edges in the canonical order, with their pieces per kind segment."""
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
    return WindowEdges(w, order, win.edges[order], src[order], des[order], tuple(segments))


def incidence_entries(src: np.ndarray, des: np.ndarray, ground_row: bool = False):
    """The signed KCL incidence as (rows, columns, values): +1 at (des(e), e), -1 at (src(e), e).

    Rows are node indices (0 = ground) when `ground_row`, else node - 1 with the
    ground's entries dropped (ground has no equation)."""
    src, des = np.asarray(src, np.int64), np.asarray(des, np.int64)
    e = np.arange(src.size)
    rows = np.concatenate([des, src])
    cols = np.concatenate([e, e])
    vals = np.concatenate([np.ones(src.size, np.int64), -np.ones(src.size, np.int64)])
    if ground_row:
        return rows, cols, vals
    keep = rows > 0
    return rows[keep] - 1, cols[keep], vals[keep]


def incidence(n_nodes: int, src: np.ndarray, des: np.ndarray, dtype=np.int64):
    """KCL as a sparse (N, E) matrix: +1 at the destination row, -1 at the source row (ground dropped)."""
    import scipy.sparse as sp

    rows, cols, vals = incidence_entries(src, des)
    return sp.csr_matrix((vals.astype(dtype), (rows, cols)), shape=(n_nodes, np.asarray(src).size), dtype=dtype)


# -- inputs -> the state at t = 0 ---------------------------------------------------------------------

def input_map(circuit: Circuit) -> tuple[np.ndarray, np.ndarray]:
    """(input nodes, data column of each): the one definition of how data drives the circuit."""
    nodes = np.asarray(circuit.inputs, np.int64)
    cols = np.arange(nodes.size, dtype=np.int64)
    if circuit.fill is Fill.REPEAT:
        cols = cols % circuit.n_data
    return nodes, cols


def input_voltages(circuit: Circuit, x):
    """Data (B, n_data) -> the input nodes' voltages (B, n_inputs), NumPy or torch alike."""
    _, cols = input_map(circuit)
    if cols.size == circuit.n_data and np.array_equal(cols, np.arange(cols.size)):
        return x
    return x[:, _index_like(x, cols)]


def initial_state(circuit: Circuit, x):
    """Data (B, n_data) -> node voltages at t = 0 (B, N): the input nodes from the data, others 0 V.

    NumPy arrays give float64 NumPy; torch tensors give a tensor of their dtype
    and device (so the torch model keeps autograd and stays on its device)."""
    nodes, _ = input_map(circuit)
    values = input_voltages(circuit, x)
    if hasattr(x, "new_zeros"):  # torch
        state = x.new_zeros((x.shape[0], circuit.n_nodes))
    else:
        values = np.asarray(values, dtype=np.float64)
        state = np.zeros((values.shape[0], circuit.n_nodes))
    state[:, _index_like(x, nodes - 1)] = values
    return state


def _index_like(x, idx: np.ndarray):
    if hasattr(x, "new_zeros"):
        import torch

        return torch.as_tensor(idx, device=x.device)
    return idx


def check_data(circuit: Circuit, x, what: str = "inputs") -> np.ndarray:
    """A (batch, n_data) real float64 array with finite values (exactly 2-D: one input is (1, n_data))."""
    arr = np.asarray(x)
    width = circuit.n_data
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) \
            or np.issubdtype(arr.dtype, np.bool_):
        raise InputError(expected_found(what, "a real numeric array", f"dtype {arr.dtype}"))
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] == 0:
        raise InputError(expected_found(what, f"shape (batch, {width})", f"shape {arr.shape}"))
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(expected_found(what, "finite values", "NaN or Inf"))
    return arr

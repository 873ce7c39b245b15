"""The Circuit IR: one frozen, validated description every view consumes.

Nodes are 1..N (0 is ground, never stored). Edges are global: edge e runs
from src[e] to des[e] and has one device kind. Each time window lists the
edges active in it and their parameters, one column per active edge, one row
per parameter row (padded with zeros up to the widest kind in the circuit).
"""

from __future__ import annotations

import enum
import functools
import io
import json
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .devices import DEVICE_KINDS, device_kind
from .errors import CircuitError, expected_found
from .fsutil import sha256_hex
from .solver import Solver


class ModelTask(enum.Enum):
    """What the circuit was trained for; decides how `eval` scores it."""

    GENERIC = "generic"
    CLASSIFIER = "classifier"  # logits are the output node voltages
    FLOW = "flow"  # continuous normalising flow, trained data -> noise
    DENSITY = "density"  # density matching against a potential


class NodeRole(enum.Enum):
    INPUT = "input"
    HIDDEN = "hidden"
    OUTPUT = "output"
    INPUT_OUTPUT = "input+output"


class Fill(enum.Enum):
    """How data narrower than the first window's input nodes fills them (the original's `fill`)."""

    ZEROS = "zeros"  # the data drives the first nodes; the rest start at 0 V
    REPEAT = "repeat"  # the data is tiled over the input nodes: node k gets column k mod width


def _frozen(array, dtype) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Window:
    """A time window [t_start, t_end] with its active edges and their parameters."""

    t_start: float
    t_end: float
    edges: np.ndarray  # int64 (E_w,), indices into Circuit.src/des, ascending
    params: np.ndarray  # float64 (R, E_w)

    def __post_init__(self):
        object.__setattr__(self, "t_start", float(self.t_start))
        object.__setattr__(self, "t_end", float(self.t_end))
        object.__setattr__(self, "edges", _frozen(self.edges, np.int64))
        object.__setattr__(self, "params", _frozen(self.params, np.float64))

    @property
    def duration(self) -> float:
        return self.t_end - self.t_start


@dataclass(frozen=True, eq=False)
class Circuit:
    n_nodes: int
    capacitance: np.ndarray  # float64 (N,), node n+1 at position n
    src: np.ndarray  # int64 (E,), 0..N
    des: np.ndarray  # int64 (E,), 0..N
    kinds: tuple[str, ...]  # device kind names used in this circuit
    edge_kind: np.ndarray  # int64 (E,), index into kinds
    windows: tuple[Window, ...]
    inputs: tuple[int, ...]  # node indices, in input-vector order
    outputs: tuple[int, ...]  # node indices, in output-vector order
    task: ModelTask = ModelTask.GENERIC
    name: str = "circuit"
    defaults: Solver = field(default_factory=Solver)
    fill: Fill = Fill.ZEROS
    data_width: int | None = None  # fill REPEAT: the data's width (below the input count)

    def __post_init__(self):
        object.__setattr__(self, "n_nodes", int(self.n_nodes))
        object.__setattr__(self, "capacitance", _frozen(self.capacitance, np.float64))
        object.__setattr__(self, "src", _frozen(self.src, np.int64))
        object.__setattr__(self, "des", _frozen(self.des, np.int64))
        object.__setattr__(self, "edge_kind", _frozen(self.edge_kind, np.int64))
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "windows", tuple(self.windows))
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        object.__setattr__(self, "outputs", tuple(int(i) for i in self.outputs))
        object.__setattr__(self, "task", ModelTask(self.task))
        object.__setattr__(self, "fill", Fill(self.fill))
        if self.data_width is not None:
            object.__setattr__(self, "data_width", int(self.data_width))
        self._validate()

    # -- validation -------------------------------------------------------
    def _validate(self) -> None:
        n = self.n_nodes
        if n < 1:
            raise CircuitError(expected_found("node count", "at least 1", str(n)))
        if self.capacitance.shape != (n,):
            raise CircuitError(expected_found("capacitance", f"shape ({n},)", str(self.capacitance.shape)))
        if not np.all(np.isfinite(self.capacitance)) or np.any(self.capacitance <= 0):
            raise CircuitError(expected_found("capacitance", "finite positive values",
                                              "a non-finite or non-positive value"))
        e = self.src.shape[0]
        if e == 0:
            raise CircuitError(expected_found("edge list", "at least one edge", "an empty edge list"))
        if self.src.shape != (e,) or self.des.shape != (e,) or self.edge_kind.shape != (e,):
            raise CircuitError(expected_found("edge arrays", f"src, des and kind of shape ({e},)",
                                              f"{self.src.shape}, {self.des.shape}, {self.edge_kind.shape}"))
        for label, idx in (("edge source", self.src), ("edge destination", self.des)):
            bad = np.flatnonzero((idx < 0) | (idx > n))
            if bad.size:
                raise CircuitError(expected_found(f"{label} of edge {bad[0]}", f"a node index in 0..{n}",
                                                  str(int(idx[bad[0]]))))
        loops = np.flatnonzero(self.src == self.des)
        if loops.size:
            raise CircuitError(expected_found(f"edge {loops[0]}", "two different terminals",
                                              f"both ends at node {int(self.src[loops[0]])}"))
        if not self.kinds:
            raise CircuitError(expected_found("device kinds", "at least one", "none"))
        for name in self.kinds:
            device_kind(name)
        bad = np.flatnonzero((self.edge_kind < 0) | (self.edge_kind >= len(self.kinds)))
        if bad.size:
            raise CircuitError(expected_found(f"device kind of edge {bad[0]}",
                                              f"an index below {len(self.kinds)}", str(int(self.edge_kind[bad[0]]))))
        if not self.windows:
            raise CircuitError(expected_found("time windows", "at least one", "none"))
        rows = self.param_rows
        for w, win in enumerate(self.windows):
            where = f"window {w}"
            if not (np.isfinite(win.t_start) and np.isfinite(win.t_end) and win.t_end > win.t_start):
                raise CircuitError(expected_found(f"{where} times", "finite t_start < t_end",
                                                  f"[{win.t_start!r}, {win.t_end!r}]"))
            if w and win.t_start != self.windows[w - 1].t_end:
                raise CircuitError(expected_found(f"{where} start", f"{self.windows[w - 1].t_end!r} (previous end)",
                                                  repr(win.t_start)))
            ew = win.edges.shape[0]
            if win.edges.ndim != 1 or np.any(win.edges < 0) or np.any(win.edges >= e) or (
                    ew > 1 and np.any(np.diff(win.edges) <= 0)):
                raise CircuitError(expected_found(f"{where} edges", f"ascending unique indices in 0..{e - 1}",
                                                  "indices out of range or unsorted"))
            if win.params.shape != (rows, ew):
                raise CircuitError(expected_found(f"{where} parameters", f"shape ({rows}, {ew})",
                                                  str(win.params.shape)))
            bad = np.argwhere(~np.isfinite(win.params))
            if bad.size:
                r, c = bad[0]
                raise CircuitError(expected_found(f"{where} parameter row {r} of edge {int(win.edges[c])}",
                                                  "a finite number", str(win.params[r, c])))
        for label, nodes in (("input nodes", self.inputs), ("output nodes", self.outputs)):
            if not nodes:
                raise CircuitError(expected_found(label, "at least one node", "none"))
            if len(set(nodes)) != len(nodes) or min(nodes) < 1 or max(nodes) > n:
                raise CircuitError(expected_found(label, f"distinct node indices in 1..{n}",
                                                  f"{min(nodes)}..{max(nodes)} ({len(nodes)} given)"))
        if self.fill is Fill.REPEAT:
            if self.data_width is None or not 1 <= self.data_width <= len(self.inputs):
                raise CircuitError(expected_found("data width under fill: repeat",
                                                  f"1..{len(self.inputs)} (the input nodes)", repr(self.data_width)))
        elif self.data_width is not None and self.data_width != len(self.inputs):
            raise CircuitError(expected_found("data width under fill: zeros",
                                              f"the input node count {len(self.inputs)}", repr(self.data_width)))

    # -- derived views ------------------------------------------------------
    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    @property
    def n_data(self) -> int:
        """The width of the data a run takes: the input count, or the narrower tiled width (fill: repeat)."""
        return self.data_width if self.fill is Fill.REPEAT else len(self.inputs)

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 of the canonical serialisation, computed once: names the circuit in every file."""
        return circuit_digest(self)

    @property
    def param_rows(self) -> int:
        return max(DEVICE_KINDS[k].n_rows for k in self.kinds)

    @property
    def times(self) -> tuple[float, ...]:
        return (self.windows[0].t_start,) + tuple(w.t_end for w in self.windows)

    @property
    def t_final(self) -> float:
        return self.windows[-1].t_end

    def n_parameters(self) -> int:
        """Stored parameter count, counting each kind's allocated rows (as the original does)."""
        total = 0
        for win in self.windows:
            kinds = self.edge_kind[win.edges]
            total += int(sum(DEVICE_KINDS[self.kinds[k]].n_rows * int(np.sum(kinds == k))
                             for k in range(len(self.kinds))))
        return total

    def role(self, node: int) -> NodeRole:
        is_in, is_out = node in self.inputs, node in self.outputs
        if is_in and is_out:
            return NodeRole.INPUT_OUTPUT
        return NodeRole.INPUT if is_in else NodeRole.OUTPUT if is_out else NodeRole.HIDDEN

    def window_kind_params(self, w: int, kind: int) -> tuple[np.ndarray, np.ndarray]:
        """(edge indices, parameters (n_rows, E_k)) of one kind's edges active in window w."""
        win = self.windows[w]
        sel = self.edge_kind[win.edges] == kind
        return win.edges[sel], win.params[: DEVICE_KINDS[self.kinds[kind]].n_rows, sel]


# -- the canonical serialisation (the model file's circuit.json and params.npz, and the digest) ----------

SCHEMA = "kgen.circuit/1"


def _zip_stored(members: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed zip with fixed timestamps and permissions (byte-identical for the same members)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, data, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _arrays(c: Circuit) -> list[tuple[str, np.ndarray]]:
    out = [("capacitance", c.capacitance), ("src", c.src), ("des", c.des), ("edge_kind", c.edge_kind),
           ("inputs", np.asarray(c.inputs, np.int64)), ("outputs", np.asarray(c.outputs, np.int64))]
    for w, win in enumerate(c.windows):
        out += [(f"window{w}_edges", win.edges), (f"window{w}_params", win.params)]
    return out


def _structure(c: Circuit) -> dict:
    out = {
        "schema": SCHEMA,
        "name": c.name,
        "task": c.task.value,
        "n_nodes": c.n_nodes,
        "n_edges": c.n_edges,
        "kinds": list(c.kinds),
        "windows": [{"t_start": w.t_start, "t_end": w.t_end, "n_edges": int(w.edges.shape[0])} for w in c.windows],
        "defaults": c.defaults.to_dict(),
    }
    if c.fill is Fill.REPEAT:  # only then: the digests of every other circuit stay as they were
        out["fill"] = c.fill.value
        out["data_width"] = c.data_width
    return out


def serialize(c: Circuit) -> tuple[bytes, bytes]:
    """The canonical (circuit.json, params.npz) bytes of a circuit."""
    structure = (json.dumps(_structure(c), indent=1, sort_keys=True) + "\n").encode()
    params = _zip_stored([(f"{name}.npy", _npy_bytes(a)) for name, a in _arrays(c)])
    return structure, params


def circuit_digest(c: Circuit) -> str:
    """SHA-256 of the canonical serialisation: names the circuit in every generated file."""
    structure, params = serialize(c)
    return sha256_hex(structure + b"\0" + params)

"""The model file: one deterministic zip holding a Circuit.

Members, in this order: `circuit.json` (structure, schema version; no big
arrays), `params.npz` (every array: edges, kinds, capacitances, per-window
edges and parameters), optional extra members (e.g. `quant.json`), and
`DIGEST` (the circuit digest). Every member has a fixed timestamp and
permissions, so the same circuit always gives the same bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from .circuit import Circuit, ModelTask, SolverDefaults, Window
from .errors import InputError, expected_found
from .fsutil import atomic_write_bytes, sha256_hex

SCHEMA = "kgen.circuit/1"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _zip_bytes(members: list[tuple[str, bytes]], compress: bool) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, data, compress_type=method, compresslevel=6 if compress else None)
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
    return {
        "schema": SCHEMA,
        "name": c.name,
        "task": c.task.value,
        "n_nodes": c.n_nodes,
        "n_edges": c.n_edges,
        "kinds": list(c.kinds),
        "windows": [{"t_start": w.t_start, "t_end": w.t_end, "n_edges": int(w.edges.shape[0])} for w in c.windows],
        "defaults": {"method": c.defaults.method, "rtol": c.defaults.rtol, "atol": c.defaults.atol,
                     "dtype": c.defaults.dtype},
    }


def serialize(c: Circuit) -> tuple[bytes, bytes]:
    """The canonical (circuit.json, params.npz) bytes of a circuit."""
    structure = (json.dumps(_structure(c), indent=1, sort_keys=True) + "\n").encode()
    params = _zip_bytes([(f"{name}.npy", _npy_bytes(a)) for name, a in _arrays(c)], compress=False)
    return structure, params


def circuit_digest(c: Circuit) -> str:
    """SHA-256 of the canonical serialisation: names the circuit in every generated file."""
    structure, params = serialize(c)
    return sha256_hex(structure + b"\0" + params)


def model_bytes(c: Circuit, extra: dict[str, bytes] | None = None) -> bytes:
    structure, params = serialize(c)
    members = [("circuit.json", structure), ("params.npz", params)]
    members += sorted((extra or {}).items())
    members.append(("DIGEST", (sha256_hex(structure + b"\0" + params) + "\n").encode()))
    return _zip_bytes(members, compress=True)


def save_model(c: Circuit, path: str | Path, extra: dict[str, bytes] | None = None) -> str:
    """Write the model file atomically; returns the circuit digest."""
    atomic_write_bytes(path, model_bytes(c, extra))
    return circuit_digest(c)


def read_members(path: str | Path) -> dict[str, bytes]:
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    except FileNotFoundError:
        raise InputError(expected_found("model file", "an existing file", f"no file {path}")) from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(expected_found(f"model file {path}", "a kgen model zip", f"{exc}")) from None


def load_model(path: str | Path) -> Circuit:
    members = read_members(path)
    for name in ("circuit.json", "params.npz"):
        if name not in members:
            raise InputError(expected_found(f"model file {path}", f"a member {name}",
                                            "members " + ", ".join(sorted(members))))
    try:
        meta = json.loads(members["circuit.json"])
    except json.JSONDecodeError as exc:
        raise InputError(expected_found(f"{path}: circuit.json", "JSON", str(exc))) from None
    if meta.get("schema") != SCHEMA:
        raise InputError(expected_found(f"{path}: schema", SCHEMA, repr(meta.get("schema"))))
    try:
        with np.load(io.BytesIO(members["params.npz"]), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        windows = tuple(Window(m["t_start"], m["t_end"], arrays[f"window{w}_edges"], arrays[f"window{w}_params"])
                        for w, m in enumerate(meta["windows"]))
        circuit = Circuit(
            n_nodes=meta["n_nodes"], capacitance=arrays["capacitance"], src=arrays["src"], des=arrays["des"],
            kinds=tuple(meta["kinds"]), edge_kind=arrays["edge_kind"], windows=windows,
            inputs=tuple(arrays["inputs"].tolist()), outputs=tuple(arrays["outputs"].tolist()),
            task=ModelTask(meta["task"]), name=meta["name"], defaults=SolverDefaults(**meta["defaults"]))
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        raise InputError(expected_found(f"model file {path}", "a consistent kgen model", f"{type(exc).__name__}: {exc}")) from None
    stored = members.get("DIGEST", b"").decode().strip()
    if stored and stored != circuit_digest(circuit):
        raise InputError(expected_found(f"model file {path}", f"digest {stored[:12]}", "different content (corrupted)"))
    return circuit

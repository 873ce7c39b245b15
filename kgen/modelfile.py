"""The model: a Circuit with its hardware choices, loaded once; and the model file that holds it.

A `Model` is the Circuit plus the optional fixed-point choices (`quant`,
quant.json) and the HDL twin's parallelism (`hdl`, hdl.json), each a typed
section. It is read from its file once (every member in one pass, the digest
computed once and cached on the circuit); every view, target and verb takes
the Model, never a path.

The file is one deterministic zip. Members, in this order: `circuit.json`
(structure, schema version; no big arrays), `params.npz` (every array:
edges, kinds, capacitances, per-window edges and parameters), the sections
and any other members in name order (`hdl.json`, `quant.json`, ...), and
`DIGEST` (the circuit digest). Every member has a fixed timestamp and
permissions, so the same model always gives the same bytes. A folder with an
original `config.yaml` + `model.pth` loads as a Model too.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from dataclasses import dataclass, field, replace

from .circuit import SCHEMA, Circuit, Fill, ModelTask, Window, circuit_digest, serialize
from .errors import InputError, expected_found
from .fsutil import atomic_write_bytes, sha256_hex
from .quant import HDL_MEMBER, MEMBER as QUANT_MEMBER, HdlChoices, QuantConfig, hdl_json, legacy_hdl_choices, \
    parse_hdl_json, parse_quant_json, quant_json
from .solver import Solver

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


def model_bytes(c: Circuit, extra: dict[str, bytes] | None = None) -> bytes:
    """The file's bytes: the circuit, then `extra` members in name order, then DIGEST."""
    structure, params = serialize(c)
    members = [("circuit.json", structure), ("params.npz", params)]
    members += sorted((extra or {}).items())
    members.append(("DIGEST", (c.digest + "\n").encode()))
    return _zip_bytes(members, compress=True)


_CORE_MEMBERS = ("circuit.json", "params.npz", "DIGEST")


@dataclass(frozen=True, eq=False)
class Model:
    """A circuit and its hardware choices: what every view, target and verb takes.

    >>> import kgen
    >>> model = kgen.example()
    >>> model.name, model.circuit.n_nodes, len(model.circuit.windows)
    ('demo', 6, 3)
    >>> model.quant is None and model.hdl is None
    True
    """

    circuit: Circuit
    quant: QuantConfig | None = None  # fixed-point formats and Euler steps (`kgen quantize`)
    hdl: HdlChoices | None = None  # the HDL twin's lanes, units and storage
    path: Path | None = None  # the file or folder it was loaded from (None: made in memory)
    members: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)  # other members, kept as they are

    @property
    def digest(self) -> str:
        return self.circuit.digest

    @property
    def name(self) -> str:
        return self.circuit.name

    def replace(self, **changes) -> Model:
        """A copy with sections replaced (e.g. `quant=...`); the loaded-from path is dropped."""
        return replace(self, path=None, **changes)

    # -- the file ----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        extra = dict(self.members)
        if self.quant is not None:
            extra[QUANT_MEMBER] = quant_json(self.quant, self.digest, self.quant.extra)
        if self.hdl is not None:
            extra[HDL_MEMBER] = hdl_json(self.hdl, self.digest)
        return model_bytes(self.circuit, extra)

    def save(self, path: str | Path) -> str:
        """Write the model file atomically; returns the circuit digest."""
        atomic_write_bytes(path, self.to_bytes())
        return self.digest

    # -- the Python API: the same operations as the command line -------------------------------------
    def run(self, x, view: str = "float", record=None, **options):
        """Run `view` on data x (batch, n_data) and return its Trace (window boundaries unless
        `record="steps"`); `options` are the view's own (see `kgen run --view V --help`).

        >>> import numpy as np, kgen
        >>> model = kgen.example()
        >>> trace = model.run(np.zeros((2, 3)), view="float")
        >>> trace.v.shape, model.outputs(trace).shape
        ((4, 2, 6), (2, 2))
        """
        from .plugins import VIEWS
        from .views import Record, run_view

        return run_view(VIEWS.get(view), self, x, VIEWS.get(view).options(**options),
                        Record(record) if record is not None else Record.BOUNDARIES)

    def outputs(self, trace) -> np.ndarray:
        """(batch, n_outputs): the output nodes' voltages in a trace's final state."""
        return trace.v[-1][:, np.asarray(self.circuit.outputs) - 1]

    def export(self, target: str, out_dir: str | Path, force: bool = False, **options):
        """Write `target`'s files into out_dir (atomically, with a manifest) and return the Manifest.
        An existing out_dir is replaced only if it holds just the files kgen wrote (else `force`)."""
        from .plugins import TARGETS

        tgt = TARGETS.get(target)
        return tgt.write(self, Path(out_dir), tgt.options(**options), force)

    def verify(self, view: str, inputs=None, *, samples: int = 16, seed: int = 0, tolerance: float | None = None,
               record=None, **options):
        """Compare `view` with its reference (the float model, or the bit-exact one for the RTL)
        on `inputs` (else `samples` standard normal draws); returns a Verification: the report's
        fields (`passed`, `max_abs_error`, ...) and the two traces compared (`reference`, `trace`)."""
        from .plugins import VIEWS
        from .verify import verify, verify_inputs
        from .views import Record

        v = VIEWS.get(view)
        x = verify_inputs(self, inputs, samples, seed)
        return verify(self, v, x, v.options(**options), tolerance,
                      Record(record) if record is not None else Record.BOUNDARIES)

    def quantize(self, data=None, **options) -> Model:
        """Choose fixed-point formats and Euler steps (`kgen quantize`); returns the quantized Model."""
        from .plugins import COMMANDS

        return COMMANDS.get("quantize").quantize(self, data, **options).model


def save_model(model: Model | Circuit, path: str | Path, extra: dict[str, bytes] | None = None) -> str:
    """Write a model (or a bare circuit) atomically; returns the circuit digest. `extra` adds raw members."""
    if isinstance(model, Circuit):
        model = Model(model)
    if extra:
        model = replace(model, members=tuple(sorted({**dict(model.members), **extra}.items())))
    return model.save(path)
#: the largest circuit.json (structure only) and the largest section or other member read
STRUCTURE_LIMIT = 16 << 20
MEMBER_LIMIT = 64 << 20


def _params_limit(meta: dict) -> int:
    """The most bytes params.npz can need for the sizes circuit.json declares (float64 / int64 arrays, at
    most 3 parameter rows, npy headers and zip entries): a larger member is refused before it is read."""
    n, e = int(meta["n_nodes"]), int(meta["n_edges"])
    per_window = [int(w["n_edges"]) for w in meta["windows"]]
    if min([n, e, *per_window]) < 0:
        raise ValueError("negative sizes")
    values = 3 * n + 3 * e + sum(4 * k for k in per_window)
    return 8 * values + 512 * (6 + 2 * len(per_window))


def read_members(path: str | Path) -> dict[str, bytes]:
    """Every member of a model file, read once; duplicate names and sizes beyond what the circuit declares
    are refused before anything is decompressed."""
    path = Path(path)
    what = f"model file {path}"
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            dup = next((n for n in names if names.count(n) > 1), None)
            if dup is not None:
                raise InputError(expected_found(what, "each member once", f"two members named {dup}"))
            sizes = {i.filename: i.file_size for i in infos}
            if sizes.get("circuit.json", 0) > STRUCTURE_LIMIT:
                raise InputError(expected_found(f"{what}: circuit.json", f"at most {STRUCTURE_LIMIT} bytes",
                                                f"{sizes['circuit.json']}"))
            out = {}
            if "circuit.json" in sizes:
                out["circuit.json"] = zf.read("circuit.json")
            limit = MEMBER_LIMIT
            try:
                meta = json.loads(out.get("circuit.json", b"{}"))
                params_limit = _params_limit(meta)
            except (ValueError, KeyError, TypeError, AttributeError):
                params_limit = limit  # _circuit names what is wrong with circuit.json
            for info in infos:
                if info.filename in out:
                    continue
                cap = params_limit if info.filename == "params.npz" else limit
                if info.file_size > cap:
                    raise InputError(expected_found(f"{what}: {info.filename}", f"at most {cap} bytes (what the "
                                                    "circuit needs)" if info.filename == "params.npz" else
                                                    f"at most {cap} bytes", f"{info.file_size} bytes"))
                out[info.filename] = zf.read(info)
            return out
    except FileNotFoundError:
        raise InputError(expected_found("model file", "an existing file", f"no file {path}")) from None
    except IsADirectoryError:
        raise InputError(expected_found("model file", "a file", f"a directory {path}")) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, zlib.error,
            ValueError) as exc:
        raise InputError(expected_found(what, "a kgen model zip", f"{exc}")) from None


def load_model(path: str | Path) -> Model:
    """A kgen model file, or a folder holding an original config.yaml + model.pth: read once."""
    path = Path(path)
    if path.is_dir():
        from .original import load_original_folder

        return Model(load_original_folder(path), path=path)
    members = read_members(path)
    circuit = _circuit(path, members)
    quant = parse_quant_json(members[QUANT_MEMBER], circuit.digest) if QUANT_MEMBER in members else None
    if HDL_MEMBER in members:
        hdl = parse_hdl_json(members[HDL_MEMBER], circuit.digest)
    else:
        hdl = legacy_hdl_choices(members[QUANT_MEMBER]) if quant is not None else None
    others = tuple((k, v) for k, v in sorted(members.items()) if k not in _CORE_MEMBERS + (QUANT_MEMBER, HDL_MEMBER))
    return Model(circuit, quant, hdl, path, others)


def _circuit(path: Path, members: dict[str, bytes]) -> Circuit:
    for name in ("circuit.json", "params.npz"):
        if name not in members:
            raise InputError(expected_found(f"model file {path}", f"a member {name}",
                                            "members " + ", ".join(sorted(members))))
    try:
        meta = json.loads(members["circuit.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(expected_found(f"{path}: circuit.json", "JSON", str(exc))) from None
    if not isinstance(meta, dict):
        raise InputError(expected_found(f"{path}: circuit.json", "a JSON object", type(meta).__name__))
    if meta.get("schema") != SCHEMA:
        raise InputError(expected_found(f"{path}: schema", SCHEMA, repr(meta.get("schema"))))
    try:
        with zipfile.ZipFile(io.BytesIO(members["params.npz"])) as inner:  # an npz is a zip: the same guard
            unpacked = sum(i.file_size for i in inner.infolist())
        if unpacked > _params_limit(meta):
            raise InputError(expected_found(f"model file {path}: params.npz", f"at most {_params_limit(meta)} bytes "
                                            "of arrays (what the circuit needs)", f"{unpacked} bytes"))
        with np.load(io.BytesIO(members["params.npz"]), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        windows = tuple(Window(m["t_start"], m["t_end"], arrays[f"window{w}_edges"], arrays[f"window{w}_params"])
                        for w, m in enumerate(meta["windows"]))
        circuit = Circuit(
            n_nodes=meta["n_nodes"], capacitance=arrays["capacitance"], src=arrays["src"], des=arrays["des"],
            kinds=tuple(meta["kinds"]), edge_kind=arrays["edge_kind"], windows=windows,
            inputs=tuple(arrays["inputs"].tolist()), outputs=tuple(arrays["outputs"].tolist()),
            task=ModelTask(meta["task"]), name=meta["name"], defaults=Solver(**meta["defaults"]),
            fill=Fill(meta.get("fill", "zeros")), data_width=meta.get("data_width"))
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, OverflowError, zipfile.BadZipFile,
            EOFError, zlib.error, NotImplementedError) as exc:
        raise InputError(expected_found(f"model file {path}", "a consistent kgen model",
                                        f"{type(exc).__name__}: {exc}")) from None
    stored = members.get("DIGEST", b"").decode("utf-8", "replace").strip()
    if stored and stored != circuit.digest:
        shown = stored[:12] if all(ch in "0123456789abcdef" for ch in stored[:12]) else repr(stored[:12])
        raise InputError(expected_found(f"model file {path}", f"digest {shown}", "different content (corrupted)"))
    return circuit

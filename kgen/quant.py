"""The model's hardware choices: fixed-point formats (quant.json) and the HDL twin's parallelism (hdl.json).

`kgen quantize` picks both; the lowering turns (circuit, QuantConfig) into the
integer program, the HDL generator maps it onto HdlChoices' lanes and units.
Parameter formats are per (device kind, piece); when absent the lowering fits
them to the circuit's parameters at `param_width` bits. Both sections name
the circuit digest they were made for, and a model refuses choices made for
another circuit.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field, replace

import numpy as np

from kgen.errors import InputError, expected_found

from .qformat import QFormat, Rounding

SCHEMA = "kgen.quant/1"
MEMBER = "quant.json"
HDL_SCHEMA = "kgen.hdl/1"
HDL_MEMBER = "hdl.json"

DEFAULT_READ = QFormat.parse("s7.11")
DEFAULT_INTEGRATOR = QFormat.parse("s7.25")

#: Parallelism the HDL generator accepts: edge lanes L and update units U, powers of two up to these.
MAX_LANES = 64
MAX_UNITS = 64
#: The widest L `kgen quantize` picks by itself (the largest the RTL benches verify).
AUTO_LANES_CAP = 16


def check_lanes(value: int, what: str = "--lanes", limit: int = MAX_LANES) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1 or value > limit \
            or value & (value - 1):
        raise InputError(expected_found(what, f"a power of two from 1 to {limit}", repr(value)))
    return int(value)


def check_parallelism(lanes: int, units: int, edges_per_window, n_nodes: int) -> tuple[int, int]:
    """(lanes, units) checked against the circuit: powers of two, no more lanes than the largest
    window has edges, no more update units than nodes (the HDL plan and `kgen quantize`)."""
    lanes, units = check_lanes(lanes), check_lanes(units, "--units", MAX_UNITS)
    if lanes > max(edges_per_window):
        raise InputError(expected_found("--lanes", f"at most the largest window's edge count "
                                        f"({max(edges_per_window)})", str(lanes)))
    if units > n_nodes:
        raise InputError(expected_found("--units", f"at most the node count ({n_nodes})", str(units)))
    return lanes, units


def balanced_lanes(edges_per_window, n_nodes: int, units: int = 1, cap: int = AUTO_LANES_CAP) -> int:
    """The lane count `kgen quantize` stores: a step costs ceil(E_w / L) + ceil(N / U) + c
    cycles, so lanes past E_w / ceil(N / U) buy little; the largest power of two at or
    below that ratio (largest window), within 1..cap."""
    ratio = max(edges_per_window) / max(1, -(-n_nodes // units))
    lanes = 1
    while lanes * 2 <= min(ratio, cap):
        lanes *= 2
    return lanes


@dataclass(frozen=True)
class TanhSpec:
    """The choices that define a table (stored in quant.json)."""

    segments: int = 1024
    x_max: int = 8
    arg_frac: int = 20  # fraction bits of |z| at the lookup
    out_frac: int = 22  # fraction bits of the output

    def __post_init__(self):
        seg_bits = math.log2(self.segments) if self.segments > 0 else -1
        xm_bits = math.log2(self.x_max) if self.x_max > 0 else -1
        if seg_bits != int(seg_bits) or xm_bits != int(xm_bits):
            raise InputError(expected_found("tanh table", "a power-of-two segment count and clamp",
                                            f"{self.segments} segments up to {self.x_max}"))
        if self.seg_shift < 1:
            raise InputError(expected_found("tanh table argument", f"more than {self.arg_frac - self.seg_shift + 1} "
                                            "fraction bits", f"{self.arg_frac}"))
        if not 2 <= self.out_frac <= 40:
            raise InputError(expected_found("tanh table output", "2..40 fraction bits", str(self.out_frac)))

    @property
    def index_bits(self) -> int:
        return int(math.log2(self.segments))

    @property
    def seg_shift(self) -> int:
        """tb: fraction bits of |z| below the segment index."""
        return self.arg_frac - (self.index_bits - int(math.log2(self.x_max)))

    @property
    def arg_format(self) -> QFormat:
        """|z| at the lookup: unsigned, log2(x_max) integer bits, rounded half-up, clamped."""
        return QFormat(False, int(math.log2(self.x_max)), self.arg_frac, Rounding.HALF_UP)

    @property
    def out_format(self) -> QFormat:
        """The signed output: magnitude below 1 plus the sign."""
        return QFormat(True, 1, self.out_frac, Rounding.HALF_UP)

    def to_dict(self) -> dict:
        return {"segments": self.segments, "x_max": self.x_max, "arg_frac": self.arg_frac, "out_frac": self.out_frac}

    @classmethod
    def from_dict(cls, d: dict) -> TanhSpec:
        return cls(int(d["segments"]), int(d["x_max"]), int(d["arg_frac"]), int(d["out_frac"]))


@dataclass(frozen=True)
class QuantConfig:
    read: QFormat = DEFAULT_READ  # the narrow copy the edges read
    integrator: QFormat = DEFAULT_INTEGRATOR  # the wide saturating state
    read_feedback: bool = True  # carry each read's rounding residue into the next read (noise shaping)
    param_width: int = 20
    coef_width: int = 16  # mantissa of dt_w / C_n (signed)
    leaky_frac: int = 16  # fraction bits of leaky_relu's slope constant
    tanh: TanhSpec = TanhSpec()
    steps: tuple[int, ...] | None = None  # Euler steps per window
    param_formats: tuple[tuple[str, str, QFormat], ...] = ()  # (kind, piece, format); empty: fit
    allow_saturation: bool = False  # parameters outside their format saturate instead of failing
    extra: dict = field(default_factory=dict, compare=False)  # calibration summary (not used to lower)

    def __post_init__(self):
        if not (self.read.signed and self.integrator.signed):
            raise InputError(expected_found("state formats", "signed formats", f"{self.read}, {self.integrator}"))
        if self.integrator.frac_bits < self.read.frac_bits:
            raise InputError(expected_found("integrator format", f"at least the read format's {self.read.frac_bits} "
                                            "fraction bits", str(self.integrator)))
        for label, v in (("param_width", self.param_width), ("coef_width", self.coef_width)):
            if not 2 <= v <= 40:
                raise InputError(expected_found(label, "2..40 bits", str(v)))
        if not 1 <= self.leaky_frac <= 30:
            raise InputError(expected_found("leaky_frac", "1..30 bits", str(self.leaky_frac)))
        if self.steps is not None:
            object.__setattr__(self, "steps", tuple(int(s) for s in self.steps))
            if any(s < 1 for s in self.steps):
                raise InputError(expected_found("steps per window", "positive counts", str(self.steps)))

    def param_format(self, kind: str, piece: str) -> QFormat | None:
        for k, p, fmt in self.param_formats:
            if k == kind and p == piece:
                return fmt
        return None

    def with_steps(self, steps) -> QuantConfig:
        return replace(self, steps=tuple(int(s) for s in steps))

    # -- quant.json -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "read": self.read.to_dict(), "integrator": self.integrator.to_dict(), "read_feedback": self.read_feedback,
            "param_width": self.param_width, "coef_width": self.coef_width, "leaky_frac": self.leaky_frac,
            "tanh": self.tanh.to_dict(), "steps": list(self.steps) if self.steps is not None else None,
            "param_formats": [{"kind": k, "piece": p, "format": f.to_dict()} for k, p, f in self.param_formats],
            "allow_saturation": self.allow_saturation,
        }

    @classmethod
    def from_dict(cls, d: dict) -> QuantConfig:
        try:
            return cls(read=QFormat.from_dict(d["read"]), integrator=QFormat.from_dict(d["integrator"]),
                       read_feedback=bool(d.get("read_feedback", False)),
                       param_width=int(d["param_width"]), coef_width=int(d["coef_width"]),
                       leaky_frac=int(d["leaky_frac"]), tanh=TanhSpec.from_dict(d["tanh"]),
                       steps=None if d.get("steps") is None else tuple(d["steps"]),
                       param_formats=tuple((e["kind"], e["piece"], QFormat.from_dict(e["format"]))
                                           for e in d.get("param_formats", ())),
                       allow_saturation=bool(d.get("allow_saturation", False)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(expected_found("quant.json config", "the kgen.quant/1 fields",
                                            f"{type(exc).__name__}: {exc}")) from None


def _json_doc(data: bytes, member: str, schema: str, digest: str | None) -> dict:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(expected_found(member, "JSON", str(exc))) from None
    if not isinstance(doc, dict) or doc.get("schema") != schema:
        raise InputError(expected_found(f"{member} schema", schema, repr(doc.get("schema") if isinstance(doc, dict)
                                                                         else type(doc).__name__)))
    if digest is not None and doc.get("circuit_digest") != digest:
        raise InputError(expected_found(member, f"choices for circuit {digest[:12]}",
                                        f"choices for circuit {str(doc.get('circuit_digest'))[:12]}"))
    return doc


def quant_json(config: QuantConfig, digest: str, report: dict | None = None) -> bytes:
    doc = {"schema": SCHEMA, "circuit_digest": digest, "config": config.to_dict(), "report": report or {}}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def parse_quant_json(data: bytes, digest: str | None = None) -> QuantConfig:
    doc = _json_doc(data, MEMBER, SCHEMA, digest)
    cfg = QuantConfig.from_dict(doc.get("config", {}))
    return replace(cfg, extra=doc.get("report", {}))


def legacy_hdl_choices(data: bytes) -> HdlChoices | None:
    """Lanes and units that models quantized before hdl.json existed kept inside quant.json."""
    try:
        config = json.loads(data).get("config", {})
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    lanes, units = config.get("lanes"), config.get("units")
    if lanes is None and units is None:
        return None
    return HdlChoices(lanes=lanes, units=units)


# -- the HDL twin's parallelism -------------------------------------------------------------------

class Storage(enum.Enum):
    """Where the twin's node-indexed state lives: flip-flops (small N) or RAM blocks (large N)."""

    REGISTERS = "registers"
    RAM = "ram"
    AUTO = "auto"


@dataclass(frozen=True)
class HdlChoices:
    """The HDL twin's stored parallelism: edge lanes L, update units U, state storage (None: the default)."""

    lanes: int | None = None
    units: int | None = None
    storage: Storage = Storage.AUTO

    def __post_init__(self):
        if self.lanes is not None:
            object.__setattr__(self, "lanes", check_lanes(self.lanes, "lanes"))
        if self.units is not None:
            object.__setattr__(self, "units", check_lanes(self.units, "units", MAX_UNITS))
        object.__setattr__(self, "storage", Storage(self.storage))

    def to_dict(self) -> dict:
        return {"lanes": self.lanes, "units": self.units, "storage": self.storage.value}

    @classmethod
    def from_dict(cls, d: dict) -> HdlChoices:
        try:
            return cls(lanes=d.get("lanes"), units=d.get("units"), storage=d.get("storage", "auto"))
        except (TypeError, ValueError, AttributeError) as exc:
            raise InputError(expected_found(f"{HDL_MEMBER} choices", "lanes, units and storage",
                                            f"{type(exc).__name__}: {exc}")) from None


def hdl_json(choices: HdlChoices, digest: str) -> bytes:
    doc = {"schema": HDL_SCHEMA, "circuit_digest": digest, "choices": choices.to_dict()}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def parse_hdl_json(data: bytes, digest: str | None = None) -> HdlChoices:
    doc = _json_doc(data, HDL_MEMBER, HDL_SCHEMA, digest)
    return HdlChoices.from_dict(doc.get("choices", {}))

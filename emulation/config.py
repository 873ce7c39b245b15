"""QuantConfig: the fixed-point choices for one model, stored in the model file as quant.json.

`kgen quantize` picks them; the lowering turns (circuit, config) into the
integer program. Parameter formats are per (device kind, piece); when absent
the lowering fits them to the circuit's parameters at `param_width` bits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from kgen.errors import InputError, expected_found

from .qformat import QFormat
from .tanh_table import TanhSpec

SCHEMA = "kgen.quant/1"
MEMBER = "quant.json"

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
    lanes: int | None = None  # the HDL twin's edge lanes L (None: the HDL default, 1)
    units: int | None = None  # the HDL twin's update units U (None: 1)
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
        if self.lanes is not None:
            object.__setattr__(self, "lanes", check_lanes(self.lanes, "lanes"))
        if self.units is not None:
            object.__setattr__(self, "units", check_lanes(self.units, "units", MAX_UNITS))

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
            "allow_saturation": self.allow_saturation, "lanes": self.lanes, "units": self.units,
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
                       allow_saturation=bool(d.get("allow_saturation", False)),
                       lanes=d.get("lanes"), units=d.get("units"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(expected_found("quant.json config", "the kgen.quant/1 fields",
                                            f"{type(exc).__name__}: {exc}")) from None


def quant_json(config: QuantConfig, digest: str, report: dict | None = None) -> bytes:
    doc = {"schema": SCHEMA, "circuit_digest": digest, "config": config.to_dict(), "report": report or {}}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def parse_quant_json(data: bytes, digest: str | None = None) -> QuantConfig:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(expected_found("quant.json", "JSON", str(exc))) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise InputError(expected_found("quant.json schema", SCHEMA, repr(doc.get("schema") if isinstance(doc, dict)
                                                                          else type(doc).__name__)))
    if digest is not None and doc.get("circuit_digest") != digest:
        raise InputError(expected_found("quant.json", f"formats for circuit {digest[:12]}",
                                        f"formats for circuit {str(doc.get('circuit_digest'))[:12]}"))
    cfg = QuantConfig.from_dict(doc.get("config", {}))
    return replace(cfg, extra=doc.get("report", {}))


def load_quant(path, digest: str) -> QuantConfig | None:
    """The quant.json stored in a kgen model file, or None (folders and unquantized models).

    `digest` is the loaded circuit's: formats made for another circuit are refused.
    """
    from pathlib import Path

    from kgen.modelfile import read_members

    path = Path(path)
    if path.is_dir():
        return None
    members = read_members(path)
    if MEMBER not in members:
        return None
    return parse_quant_json(members[MEMBER], digest)

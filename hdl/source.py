"""Where the twin's numeric choices come from: the model's stored `kgen quantize` choices, then flags.

The HDL never picks formats of its own: it lowers (circuit, QuantConfig) with
emulation.lower, the same call the bit-exact model makes, so both execute one
program. A model without stored choices gets QuantConfig's defaults; the
step counts must then come from `--steps`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

from kgen.circuit import Circuit
from kgen.emulation.config import QuantConfig, check_lanes, load_quant
from kgen.emulation.program import Program
from kgen.emulation.qformat import QFormat
from kgen.errors import InputError, expected_found

from .plan import MAX_READ_BITS, MAX_STATE_BITS, HdlConfig, Storage


@dataclass(frozen=True)
class TwinChoices:
    """Flags that override the stored choices (None: keep the stored or default value)."""

    steps: str | None = None  # `--steps` text: N or N1,N2,... (resolved against the circuit's windows)
    read: QFormat | None = None
    integrator: QFormat | None = None
    reverse: bool = False
    lanes: int | None = None
    units: int | None = None
    storage: Storage = Storage.AUTO


def parse_steps(text: str | None, n_windows: int) -> tuple[int, ...] | None:
    """`--steps 20` (every window) or `--steps 20,30` (one per window)."""
    if text is None:
        return None
    try:
        vals = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise InputError(expected_found("--steps", "a step count or one per window (e.g. 20 or 20,30)",
                                        repr(text))) from None
    if len(vals) == 1:
        vals = vals * n_windows
    if len(vals) != n_windows or any(v < 1 for v in vals):
        raise InputError(expected_found("--steps", f"one positive count or {n_windows} of them", repr(text)))
    return vals


def _format(text: str | None, what: str, limit: int) -> QFormat | None:
    if text is None:
        return None
    fmt = QFormat.parse(text)
    if fmt.width > limit:
        raise InputError(expected_found(what, f"a format of at most {limit} bits (the HDL core's limit)",
                                        f"{fmt} ({fmt.width} bits)"))
    return fmt


def add_twin_arguments(p: argparse.ArgumentParser,
                       lanes_help: str = "parallel edge lanes L (default: the model's stored choice, else 1)") -> None:
    p.add_argument("--lanes", type=int, help=lanes_help)
    p.add_argument("--units", type=int, help="update units U (default: the model's stored choice, else 1)")
    p.add_argument("--steps", help="Euler steps per window: N or N1,N2,... (default: the model's stored choice)")
    p.add_argument("--read-format", help="read copy format, e.g. s7.11 (default: the model's stored choice)")
    p.add_argument("--integrator-format", help="integrator format, e.g. s7.25 (default: the stored choice)")
    p.add_argument("--storage", choices=[s.value for s in Storage], default="auto",
                   help="node state in registers or RAM (default auto: registers up to 16 words per bank)")
    p.add_argument("--reverse", action="store_true", help="integrate the windows backwards (flow models)")


def choices_from_args(a: argparse.Namespace) -> TwinChoices:
    lanes = check_lanes(a.lanes) if a.lanes is not None else None
    units = check_lanes(a.units, "--units") if a.units is not None else None
    return TwinChoices(steps=a.steps, read=_format(a.read_format, "--read-format", MAX_READ_BITS),
                       integrator=_format(a.integrator_format, "--integrator-format", MAX_STATE_BITS), reverse=bool(a.reverse),
                       lanes=lanes, units=units, storage=Storage(a.storage))


def quant_config(circuit: Circuit, model: str | Path | None, choices: TwinChoices) -> QuantConfig:
    from kgen.modelfile import circuit_digest

    cfg = load_quant(model, circuit_digest(circuit)) if model is not None else None
    cfg = cfg or QuantConfig()
    if choices.read is not None:
        cfg = replace(cfg, read=choices.read)
    if choices.integrator is not None:
        cfg = replace(cfg, integrator=choices.integrator)
    steps = parse_steps(choices.steps, len(circuit.windows))
    if steps is not None:
        cfg = cfg.with_steps(steps)
    return cfg


def hdl_config(choices: TwinChoices, cfg: QuantConfig | None = None, debug: bool = True) -> HdlConfig:
    """Lanes and units: the flags, else the model's stored `kgen quantize` choice, else 1."""
    stored_lanes, stored_units = (cfg.lanes, cfg.units) if cfg is not None else (None, None)
    return HdlConfig(lanes=choices.lanes or stored_lanes or 1, units=choices.units or stored_units or 1,
                     storage=choices.storage, debug=debug)


def twin_program(circuit: Circuit, model: str | Path | None, choices: TwinChoices) -> Program:
    from kgen.emulation.lower import lower

    return lower(circuit, quant_config(circuit, model, choices), reverse=choices.reverse)

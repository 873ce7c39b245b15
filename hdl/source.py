"""Where the twin's choices come from: the model's stored ones, then the flags.

Numbers: the HDL never picks formats of its own. It lowers the program the
fixed view lowers (`emulation.views.program_of`: the model's quant section,
then `--steps`, `--read-format`, `--integrator-format`, `--reverse`), so the
core and the bit-exact model execute one program.

Parallelism: `--lanes` / `--units` / `--storage`, else the model's hdl
section (HdlChoices, stored by `kgen quantize`), else 1 lane, 1 update unit
and automatic storage (`hdl_config`, the one place for it). The rtl view and
the verilog target take these flags from the option factories here, so each
flag has one meaning.
"""

from __future__ import annotations

from kgen.errors import InputError, expected_found
from kgen.options import option
from kgen.quant import MAX_UNITS, HdlChoices, Storage, check_lanes

from .plan import HdlConfig, Plan, make_plan


def lanes_option():
    return option(None, help="parallel edge lanes L, a power of two (default: the model's stored choice, else 1)",
                  metavar="L")


def units_option():
    return option(None, help="update units U, a power of two (default: the model's stored choice, else 1)",
                  metavar="U")


def storage_option():
    return option(None, help="node state in registers or RAM (default: the model's stored choice, else auto: "
                             "registers up to 16 words per bank)")


def check_twin_options(options) -> None:
    """Validate the parallelism flags of an options dataclass (from flags and Python keywords alike)."""
    if options.lanes is not None:
        check_lanes(options.lanes, "--lanes")
    if options.units is not None:
        check_lanes(options.units, "--units", MAX_UNITS)


def check_probability(value, flag: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InputError(expected_found(flag, "a probability in [0, 1)", repr(value)))


def hdl_config(model, lanes: int | None = None, units: int | None = None, storage: Storage | None = None,
               debug: bool = True) -> HdlConfig:
    """Lanes, units and storage: the flags, else the model's stored choice, else 1, 1 and auto."""
    stored = model.hdl or HdlChoices()
    return HdlConfig(lanes=lanes or stored.lanes or 1, units=units or stored.units or 1,
                     storage=storage or stored.storage, debug=debug)


def twin_plan(model, options, debug: bool = True) -> Plan:
    """The core's plan for a twin options dataclass (steps, formats, reverse, lanes, units, storage)."""
    from kgen.emulation.views import program_of

    program = program_of(model, options)
    return make_plan(program, hdl_config(model, options.lanes, options.units, options.storage, debug))

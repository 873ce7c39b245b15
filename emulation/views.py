"""The `fixed` view: the bit-exact model, the twin's golden reference.

`kgen run MODEL --view fixed` lowers the circuit with the model's stored
`kgen quantize` choices (its quant section; flags override the step counts
and the state formats), runs the bit-exact model and returns the integrator
words as a trace. Saturations and overflows are reported on stderr with
counts, never dropped silently. On small circuits the trace carries the
derived error bound against float Euler at the same steps, the reference
`kgen verify --view fixed` holds it to.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np

from kgen.errors import InputError, expected_found
from kgen.options import option, reverse_option, steps_for_windows, steps_option
from kgen.qformat import QFormat
from kgen.quant import QuantConfig
from kgen.views import Record, View

#: The widest formats the HDL core takes (the twin's options accept no wider).
MAX_READ_BITS = 32
MAX_STATE_BITS = 48


def _format(flag: str, limit: int):
    def parse(text) -> QFormat:
        fmt = text if isinstance(text, QFormat) else QFormat.parse(str(text))
        if fmt.width > limit:
            raise InputError(expected_found(flag, f"a format of at most {limit} bits (the HDL core's limit)",
                                            f"{fmt} ({fmt.width} bits)"))
        return fmt
    return parse


def read_format_option():
    return option(None, help="read copy format, e.g. s7.11 (default: the model's stored choice)",
                  parse=_format("--read-format", MAX_READ_BITS), metavar="FORMAT")


def integrator_format_option():
    return option(None, help="integrator format, e.g. s7.25 (default: the model's stored choice)",
                  parse=_format("--integrator-format", MAX_STATE_BITS), metavar="FORMAT")


def twin_config(model, steps=None, read: QFormat | None = None, integrator: QFormat | None = None) -> QuantConfig:
    """The twin's numeric choices: the model's stored ones (else the defaults), then the flags.

    The HDL and the bit-exact model both lower with this, so they execute one program."""
    cfg = model.quant or QuantConfig()
    if read is not None:
        cfg = replace(cfg, read=read)
    if integrator is not None:
        cfg = replace(cfg, integrator=integrator)
    steps = steps_for_windows(steps, len(model.circuit.windows))
    if steps is not None:
        cfg = cfg.with_steps(steps)
    if cfg.steps is None:
        raise InputError(expected_found("Euler steps per window", "a model quantized by `kgen quantize` or --steps N",
                                        "neither"))
    return cfg


@dataclass(frozen=True)
class FixedOptions:
    title = "fixed view"
    steps: int | tuple[int, ...] | None = steps_option()
    read_format: QFormat | None = read_format_option()
    integrator_format: QFormat | None = integrator_format_option()
    reverse: bool = reverse_option()


def warn_counts(result, what: str = "fixed view") -> None:
    text = result.summary()
    if text:
        print(f"kgen: warning: {what}: {text}", file=sys.stderr)


def fixed_reference_options(model, options) -> dict:
    """The fixed view's options at a twin view's steps, formats and direction: what the RTL and the board run,
    so `kgen verify --view rtl|board` compares them with the bit-exact model of the same program."""
    cfg = twin_config(model, options.steps, options.read_format, options.integrator_format)
    return {"steps": cfg.steps, "read_format": cfg.read, "integrator_format": cfg.integrator,
            "reverse": options.reverse}


def program_of(model, options):
    """The lowered program of a twin view's options (the fixed view's and the RTL's)."""
    from .lower import lower

    cfg = twin_config(model, options.steps, options.read_format, options.integrator_format)
    program = lower(model.circuit, cfg, reverse=options.reverse)
    if program.param_saturations:
        print("kgen: warning: fixed view: saturated parameters: "
              + ", ".join(f"{k}: {v}" for k, v in program.param_saturations), file=sys.stderr)
    return program


class FixedView(View):
    name = "fixed"
    description = "the bit-exact fixed-point Euler model (the RTL's golden reference)"
    Options = FixedOptions

    def reference_options(self, model, options: FixedOptions) -> dict:
        """Float Euler at the same steps: what the derived error bound covers."""
        steps = twin_config(model, options.steps).steps
        return {"method": "euler", "steps": steps, "dtype": "float64", "reverse": options.reverse}

    def run(self, model, x: np.ndarray, options: FixedOptions, record: Record = Record.BOUNDARIES):
        from .bound import DENSE_NODES, propagate
        from .interp import Emulator

        program = program_of(model, options)
        marks = None if record is Record.STEPS else program.boundary_steps()
        result = Emulator(program).run(x, record=True, marks=marks)
        warn_counts(result)
        bound = None
        if model.circuit.n_nodes <= DENSE_NODES:
            bound = propagate(model.circuit, program, x).bound
            if marks is not None:
                bound = bound[marks]
        return program.trace(result.states, result.flags, "fixed", marks, bound)


VIEW = FixedView()

"""`--target spice`: B-source netlists for ngspice (run here), Xyce and Spectre (golden text).

Each edge is one behavioural current source from src to des whose current is
printed from the device library, parameters inline as numbers (no .param, no
braces: 230k inline B-sources parse in seconds), switching parameter sets at
t_k + delta with a dummy PWL source putting a breakpoint on every boundary.
Every node has its capacitor to ground and an initial condition; the
transient uses the accuracy preset of kgen.codegen.analog.
"""

from __future__ import annotations

import argparse
import enum
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from kgen import __version__
from kgen.circuit import Circuit
from kgen.modelfile import circuit_digest

from . import environment
from .analog import (SPICE_ACCURACY, Accuracy, AnalogOptions, Save, Schedule, add_analog_arguments, analog_from_args,
                     analog_target, capacitances, enum_option, header_details, setup_text, transient_setup)
from .netlist import Element, copy_suffix, elements, kind_identifiers, kinds_in, node_name, safe_title
from .numfmt import num, operand
from .printers import DevicePrinter, NgspicePrinter, SpectrePrinter, XycePrinter, spice_format, used_rows


class SpiceDialect(enum.Enum):
    NGSPICE = "ngspice"
    XYCE = "xyce"
    SPECTRE = "spectre"


@dataclass(frozen=True)
class _DialectSpec:
    printer: type[DevicePrinter]
    template: str
    filename: str
    comment: str
    voltage: str  # node voltage with a {} slot
    time: str  # the simulation time variable

    def switch(self, threshold: str, early: str, late: str) -> str:
        return f"{self.time} < {threshold} ? ({early}) : ({late})"


class _Xyce(_DialectSpec):
    def switch(self, threshold: str, early: str, late: str) -> str:
        return f"IF({self.time} < {threshold}, {early}, {late})"


DIALECTS = {
    SpiceDialect.NGSPICE: _DialectSpec(NgspicePrinter, "spice/ngspice.cir.j2", "netlist.cir", "*", "v({})", "time"),
    SpiceDialect.XYCE: _Xyce(XycePrinter, "spice/xyce.cir.j2", "netlist.cir", "*", "V({})", "TIME"),
    SpiceDialect.SPECTRE: _DialectSpec(SpectrePrinter, "spice/spectre.scs.j2", "netlist.scs", "//", "V({})",
                                       "$time"),
}


@dataclass(frozen=True, eq=False)
class SpiceOptions(AnalogOptions):
    accuracy: Accuracy = SPICE_ACCURACY
    dialect: SpiceDialect = SpiceDialect.NGSPICE


SourceLine = namedtuple("SourceLine", "name src des current")
CapLine = namedtuple("CapLine", "name node value")
NodeValue = namedtuple("NodeValue", "node value")


def current_text(spec: _DialectSpec, element: Element, formats: dict, rows: dict[str, tuple[int, ...]],
                 thresholds: list[str], scale: str | None, src: str, des: str) -> str:
    """One edge's current: the window's device expression, switched at the thresholds, scaled."""
    branches = []
    for params in element.params:
        if params is None:
            branches.append("0.0")  # gated explicitly: act(0) is not always 0
        else:
            values = {f"p{r}": operand(repr(v)) for r, v in zip(rows[element.kind], params)}
            fmt = formats[element.kind, element.src == 0, element.des == 0]
            branches.append(fmt.format(src=src, des=des, **values))
    # merge consecutive equal branches (an edge inactive in several windows in a row)
    merged, cuts = [branches[0]], []
    for k in range(1, len(branches)):
        if branches[k] == merged[-1]:
            continue
        cuts.append(thresholds[k - 1])
        merged.append(branches[k])
    text = merged[-1]
    for k in range(len(merged) - 2, -1, -1):
        text = spec.switch(cuts[k], merged[k], text)
    return text if scale is None else f"{scale}*({text})"


def write_spice(circuit: Circuit, options: SpiceOptions, folder: Path, initial: np.ndarray,
                schedule: Schedule, name: str | None = None, digest: str | None = None) -> list[str]:
    """Write one netlist (B copies for the B rows of `initial`, (B, N) volts) into `folder`."""
    spec = DIALECTS[options.dialect]
    setup = transient_setup(circuit, schedule, options.units, options.accuracy)
    kinds = kinds_in(circuit, schedule)
    kind_identifiers(kinds)  # refuse names that collide after sanitising
    # one template per kind and grounded terminal (a grounded terminal is printed as 0 V)
    formats = {(k, gs, gd): spice_format(spec.printer, k, options.dialect.value, spec.voltage, (gs, gd))
               for k in kinds for gs in (False, True) for gd in (False, True) if not (gs and gd)}
    rows = {k: used_rows(k) for k in kinds}
    caps = capacitances(circuit, options.units)
    copies = initial.shape[0]
    thresholds = [num(t, "switch time") for t in setup.switch]
    scale = None if setup.current_scale == 1.0 else num(setup.current_scale, "current scale")

    def sources() -> Iterator[SourceLine]:
        for el in elements(circuit, schedule):
            for b in range(copies):
                src, des = node_name(el.src, b, copies), node_name(el.des, b, copies)
                yield SourceLine(f"b{el.edge}{copy_suffix(b, copies)}", src, des,
                                 current_text(spec, el, formats, rows, thresholds, scale, src, des))

    nodes = range(1, circuit.n_nodes + 1)
    saved = nodes if options.save is Save.ALL else circuit.outputs
    caps_text = [num(c, "capacitance") for c in caps]
    filename = name or spec.filename
    environment.write(
        folder / filename, spec.template,
        comment=spec.comment, version=__version__, name=safe_title(circuit.name),
        digest=digest or circuit_digest(circuit),
        details=header_details(circuit, options.units, options.accuracy, schedule, copies,
                               f"spice ({options.dialect.value})"),
        pwl=" ".join(f"{num(t)} {num(v)}" for t, v in setup.pwl_values),
        sources=sources(),
        capacitors=(CapLine(f"c{n}{copy_suffix(b, copies)}", node_name(n, b, copies), caps_text[n - 1])
                    for b in range(copies) for n in nodes),
        ics=(NodeValue(node_name(n, b, copies), num(initial[b, n - 1], "initial voltage"))
             for b in range(copies) for n in nodes),
        saves=[node_name(n, b, copies) for b in range(copies) for n in saved],
        setup=setup_text(setup),
    )
    return [filename]


# -- the target plugin ----------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dialect", default="ngspice", help="ngspice (runnable here, default), xyce or spectre "
                                                       "(golden text only)")
    add_analog_arguments(p, "ngspice")


def options_from_args(a: argparse.Namespace) -> SpiceOptions:
    dialect = enum_option(SpiceDialect, a.dialect, "--dialect")
    return SpiceOptions(dialect=dialect, **analog_from_args(a, runnable=dialect is SpiceDialect.NGSPICE))


TARGET = analog_target(
    "spice", "SPICE netlist of B-sources and capacitors (ngspice runnable; xyce, spectre golden text)",
    add_arguments, options_from_args, write_spice)

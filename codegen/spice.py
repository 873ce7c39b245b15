"""`--target spice`: B-source netlists for ngspice (run here), Xyce and Spectre (golden text).

Each edge is one behavioural current source from src to des whose current is
printed from the device library, parameters inline as numbers (no .param, no
braces: 230k inline B-sources parse in seconds), switching parameter sets at
t_k + delta with a dummy PWL source putting a breakpoint on every boundary.
Every node has its capacitor to ground and an initial condition; the
transient uses the accuracy preset of kgen.codegen.analog. The dialects are an
Enum whose members map to small spec subclasses; ngspice's names its
simulator (`NgspiceSimulator`), the others are golden text only.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Iterator

import numpy as np

from kgen.options import option

from .analog import SPICE_ACCURACY, Accuracy, Schedule
from .netlist import Element, WrittenNetlist, copy_suffix, netlist_context, node_name
from .numfmt import num, operand
from .simulator import Simulator
from .target import AnalogTarget, AnalogTargetOptions, Dialect
from .tools import NGSPICE

if TYPE_CHECKING:
    from kgen.circuit import Circuit


class NgspiceSimulator(Simulator):
    name = "ngspice"
    label = "ngspice"
    tool = NGSPICE
    raw_name = "netlist.raw"
    log_errors_fail = True  # batch ngspice can exit 0 after an analysis error

    def command(self, executable: Path, netlist: str) -> list[str]:
        return [str(executable), "-b", "-r", self.raw_name, netlist]

    def variable(self, node: str) -> str:
        return f"v({node})"


class _Dialect:
    """One SPICE dialect: its printer, template, comment marker and spellings."""

    printer: ClassVar[str]  # kgen.codegen.printers class name (imported when writing: sympy)
    template: ClassVar[str]
    filename: ClassVar[str] = "netlist.cir"
    comment: ClassVar[str] = "*"
    voltage: ClassVar[str] = "V({})"  # node voltage with a {} slot
    time: ClassVar[str]  # the simulation time variable
    simulator: ClassVar[Simulator | None] = None  # None: golden text, not simulated here

    def switch(self, threshold: str, early: str, late: str) -> str:
        return f"{self.time} < {threshold} ? ({early}) : ({late})"

    def ramp(self, start: str, width: str) -> str:
        """0 at `start`, rising linearly to 1 over `width` seconds (used after `start` only)."""
        return f"min(1.0, ({self.time} - {start})/{width})"


class _Ngspice(_Dialect):
    printer = "NgspicePrinter"
    template = "spice/ngspice.cir.j2"
    voltage = "v({})"
    time = "time"
    simulator = NgspiceSimulator()


class _Xyce(_Dialect):
    printer = "XycePrinter"
    template = "spice/xyce.cir.j2"
    time = "TIME"

    def switch(self, threshold: str, early: str, late: str) -> str:
        return f"IF({self.time} < {threshold}, {early}, {late})"


class _Spectre(_Dialect):
    printer = "SpectrePrinter"
    template = "spice/spectre.scs.j2"
    filename = "netlist.scs"
    comment = "//"
    time = "$time"


class SpiceDialect(Dialect):
    NGSPICE = "ngspice"
    XYCE = "xyce"
    SPECTRE = "spectre"

    @classmethod
    def _specs(cls) -> dict:
        return _DIALECTS


_DIALECTS = {SpiceDialect.NGSPICE: _Ngspice(), SpiceDialect.XYCE: _Xyce(), SpiceDialect.SPECTRE: _Spectre()}


@dataclass(frozen=True, eq=False)
class SpiceOptions(AnalogTargetOptions):
    title = "spice target"
    dialect: SpiceDialect = option(SpiceDialect.NGSPICE, help="ngspice (runnable here), xyce or spectre "
                                                              "(golden text only)")
    preset: Accuracy = field(default=SPICE_ACCURACY)


SourceLine = namedtuple("SourceLine", "name src des current")


def current_text(spec: _Dialect, element: Element, formats: dict, keys: dict[str, tuple[str, ...]],
                 thresholds: list[str], scale: str | None, src: str, des: str,
                 resting: list[frozenset[int]] = (), width: str = "0.0") -> str:
    """One edge's current: the window's device expression, switched at the thresholds, scaled.

    `keys[kind]` names the template slots of the kind's used parameter rows ("p0", "p2", ...).
    An edge that switches on at a node no edge touched in the window before (`resting`: a node
    that joins the circuit, or one left alone) ramps in over `width` seconds instead of jumping:
    ngspice cannot take a current step onto a node at rest ("Timestep too small" at the boundary;
    the ramp's effect on the waveform is of order width / window, 1e-9)."""
    branches = []
    fmt = formats[element.kind, element.src == 0, element.des == 0]
    names = keys[element.kind]
    for k, params in enumerate(element.params):
        if params is None:
            branches.append("0.0")  # gated explicitly: act(0) is not always 0
        else:
            values = {}
            for key, v in zip(names, params):
                text = repr(v)
                values[key] = operand(text) if text[0] == "-" else text
            current = fmt.format(src=src, des=des, **values)
            if k and element.params[k - 1] is None and {element.src, element.des} & resting[k - 1]:
                current = f"{spec.ramp(thresholds[k - 1], width)}*({current})"
            branches.append(current)
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
                schedule: Schedule, name: str | None = None) -> WrittenNetlist:
    """Write one netlist (B copies for the B rows of `initial`, (B, N) volts) into `folder`."""
    from kgen.devices import DEVICE_KINDS

    from . import environment, printers

    spec = options.dialect.spec
    ctx = netlist_context(circuit, options.units, options.transient, options.save, initial, schedule,
                          f"spice ({options.dialect.value})")
    printer = getattr(printers, spec.printer)
    # one template per kind and grounded terminal (a grounded terminal is printed as 0 V)
    formats = {(k, gs, gd): printers.spice_format(printer, k, options.dialect.value, spec.voltage, (gs, gd))
               for k in ctx.kinds for gs in (False, True) for gd in (False, True) if not (gs and gd)}
    keys = {k: tuple(f"p{r}" for r in DEVICE_KINDS[k].used_rows) for k in ctx.kinds}
    thresholds = ctx.switch_text()
    resting, width = ctx.resting_nodes(), ctx.switch_width()
    scale = None if ctx.setup.current_scale == 1.0 else num(ctx.setup.current_scale, "current scale")

    def sources() -> Iterator[SourceLine]:
        copies = ctx.copies
        for el in ctx.elements():
            for b in range(copies):
                src, des = node_name(el.src, b, copies), node_name(el.des, b, copies)
                yield SourceLine(f"b{el.edge}{copy_suffix(b, copies)}", src, des,
                                 current_text(spec, el, formats, keys, thresholds, scale, src, des, resting,
                                              width))

    filename = name or spec.filename
    environment.write(folder / filename, spec.template, comment=spec.comment, **ctx.template_context(),
                      pwl=" ".join(f"{t} {v}" for t, v in ctx.pwl()), sources=sources())
    return WrittenNetlist([filename], ctx)


class SpiceTarget(AnalogTarget):
    name = "spice"
    description = "SPICE netlist of B-sources and capacitors (ngspice runnable; xyce, spectre golden text)"
    Options = SpiceOptions

    def write_netlist(self, circuit, options, folder, initial, schedule, loads=None) -> WrittenNetlist:
        return write_spice(circuit, options, folder, initial, schedule)


TARGET = SpiceTarget()

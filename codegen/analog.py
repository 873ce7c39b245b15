"""What every analog netlist shares: unit mapping, accuracy preset, the window schedule, the shared flags.

Model units (C = 1, windows like [0, 1, 2]) are the default. A unit mapping
(`--cap` farads, `--tau` seconds per model unit) scales every device current
by cap / tau, every capacitor by cap and every time by tau, so the waveforms
are the same curves in physical units; the tolerances scale with them
(abstol by cap / tau, charge tolerance by cap, maxstep and delta by tau).

The accuracy preset (DESIGN.md, measured against DOP853 at 1e-12): trapezoidal
integration, reltol 1e-8, vntol 1e-10, abstol 1e-12, maxstep 5e-5 of the
simulated span; window boundaries are breakpoints of a dummy PWL source and
edges switch parameter sets at t_k + delta, delta = 1e-9 of the span.
ngspice takes reltol 1e-10 (`SPICE_ACCURACY`): at 1e-8 its Newton acceptance
left 1.9e-4 at a boundary on one of 16 8gaussians inputs (2.1e-5 at 1e-10, for
the same CPU time), while VACASK at 1e-8 stays under 1e-5 and at 1e-10 gets
slower and no better (docs/analog.md).

The flags the analog targets and views share (`--save`, `--cap`, `--tau`) are
declared here once, so they mean one thing everywhere. This module imports
nothing heavy (no sympy, no Jinja): the target plugins load it for `--help`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from kgen.errors import CircuitError, InputError, expected_found
from kgen.options import option

from .numfmt import check_finite, num

if TYPE_CHECKING:  # annotations only: kgen.circuit loads sympy
    from kgen.circuit import Circuit


@dataclass(frozen=True)
class Units:
    """Farads per model capacitance unit and seconds per model time unit."""

    cap: float = 1.0
    tau: float = 1.0

    @property
    def current_scale(self) -> float:
        return self.cap / self.tau

    @property
    def is_model(self) -> bool:
        return self.cap == 1.0 and self.tau == 1.0

    def describe(self) -> str:
        if self.is_model:
            return "model units (C = 1 F per unit, 1 s per time unit)"
        return f"physical units: {num(self.cap)} F per capacitance unit, {num(self.tau)} s per time unit"


@dataclass(frozen=True)
class Accuracy:
    """The transient accuracy preset, in model units (scaled by Units when printed)."""

    method: str = "trap"
    reltol: float = 1e-8
    vntol: float = 1e-10
    abstol: float = 1e-12  # current
    chgtol: float = 1e-14  # charge
    maxstep_fraction: float = 5e-5  # of the circuit's whole span
    delta_fraction: float = 1e-9  # switch at t_k + delta
    holds: float = 1e-5  # the largest output error measured at these settings (what --accuracy scales from)

    def halved(self) -> Accuracy:
        return replace(self, maxstep_fraction=self.maxstep_fraction / 2)

    def for_error(self, error: float | None) -> Accuracy:
        """The settings for an absolute error `error` at the outputs, scaled from this preset (measured to
        hold `holds`): the trapezoidal rule's error goes as maxstep^2, so maxstep scales with
        sqrt(error / holds), and reltol (the step control's local error) with the error itself;
        bench/accuracy.py measures that the error follows (docs/analog.md). None: this preset."""
        if error is None:
            return self
        f = error / self.holds
        maxstep = min(max(self.maxstep_fraction * math.sqrt(f), self.maxstep_fraction / 16), MAXSTEP_CEILING)
        reltol = min(max(self.reltol * f, self.reltol / 100), RELTOL_CEILING)
        return replace(self, maxstep_fraction=maxstep, reltol=reltol)


#: the preset for VACASK (Verilog-A) and for ngspice (B-sources: reltol 1e-10), each with the output error it
#: is taken to hold, from measurements (docs/analog.md): VACASK 7.2e-7 on 8gaussians and, scaled back from
#: 1.47e-3 at 100x looser settings, ~1.5e-5 on the mnist logits (T = 2; 2e-5 keeps a margin); ngspice 2.1e-5
#: at a window boundary of 8gaussians. Both are inside the analog contract, PRESET_ERROR.
VERILOGA_ACCURACY = Accuracy(holds=2e-5)
SPICE_ACCURACY = Accuracy(reltol=1e-10, holds=5e-5)
PRESET_ERROR = 1e-4
#: `--accuracy` never loosens past these: a step of 1 % of the span, a relative tolerance of 1e-5
MAXSTEP_CEILING = 1e-2
RELTOL_CEILING = 1e-5


def parse_accuracy(text) -> float | None:
    """`--accuracy ERR` (an absolute error at the outputs) or `--accuracy preset`."""
    if text is None or text == "preset":
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not (math.isfinite(value) and value > 0):
        raise InputError(expected_found("--accuracy", "an absolute error at the outputs such as 1e-3, or preset",
                                        repr(text)))
    return value


def check_accuracy(value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not (math.isfinite(value) and value > 0)):
        raise InputError(expected_found("--accuracy", "an absolute error at the outputs such as 1e-3, or preset",
                                        repr(value)))


def check_option():
    return option(False, help="simulate at maxstep and at maxstep / 2 (ngspice for spice, VACASK for veriloga; an "
                              "export simulates its --inputs) and report how much the window-boundary voltages "
                              "change (has the result converged?)")


def accuracy_option():
    return option(None, parse=parse_accuracy, metavar="ERR",
                  help="the absolute error at the outputs the transient aims for: maxstep and reltol scaled from "
                       "the preset's measured error (maxstep as sqrt(ERR), reltol as ERR; docs/analog.md); "
                       f"'preset' (the default) keeps the preset, which holds {PRESET_ERROR:g}")


class Save(enum.Enum):
    ALL = "all"  # every node voltage
    OUTPUTS = "outputs"  # the output nodes only (e.g. mnist)


# -- the shared flags ----------------------------------------------------------------------------------

def plain_positive(flag: str):
    """A parser for a number that must be finite and positive, written without SI suffixes."""
    def parse(text) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise InputError(expected_found(flag, "a plain number such as 1e-13 (no SI suffixes)",
                                            repr(text))) from None
        if not (math.isfinite(value) and value > 0):
            raise InputError(expected_found(flag, "a finite positive number", repr(text)))
        return value
    return parse


def cap_option():
    return option(1.0, help="farads per model capacitance unit (default 1: model units)",
                  parse=plain_positive("--cap"), metavar="FARADS")


def tau_option():
    return option(1.0, help="seconds per model time unit (default 1: model units)", parse=plain_positive("--tau"),
                  metavar="SECONDS")


def save_option():
    return option(Save.ALL, help="node voltages in the waveform: all (default) or outputs")


def check_units(cap: float, tau: float) -> Units:
    """The unit mapping of `--cap` / `--tau` (already numbers), validated as one."""
    for flag, value in (("--cap", cap), ("--tau", tau)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise InputError(expected_found(flag, "a finite positive number", repr(value)))
    units = Units(float(cap), float(tau))
    if not (math.isfinite(units.current_scale) and units.current_scale > 0):
        raise InputError(expected_found("--cap / --tau", "a finite positive current scale cap / tau",
                                        repr(units.current_scale)))
    return units


def positive_count(value, flag: str) -> None:
    """None or an integer >= 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InputError(expected_found(flag, "a positive count", repr(value)))


# -- the window schedule and the transient -------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """The consecutive windows one simulator run covers (all of them, or one when chained)."""

    windows: tuple[int, ...]

    @classmethod
    def full(cls, circuit: Circuit) -> Schedule:
        return cls(tuple(range(len(circuit.windows))))

    @classmethod
    def single(cls, w: int) -> Schedule:
        return cls((w,))

    def t0(self, circuit: Circuit) -> float:
        return circuit.windows[self.windows[0]].t_start

    def ends(self, circuit: Circuit) -> np.ndarray:
        """Window end times relative to the run's start (model units)."""
        t0 = self.t0(circuit)
        return np.array([circuit.windows[w].t_end - t0 for w in self.windows])


@dataclass(frozen=True)
class TransientSetup:
    """Every number of one transient, already in the netlist's units (seconds, farads, amperes)."""

    stop: float
    maxstep: float
    switch: tuple[float, ...]  # thresholds t_k + delta of the internal boundaries
    delta: float  # the switch's offset after a boundary
    ends: tuple[float, ...]  # window ends (where results are read)
    breakpoints: tuple[float, ...]  # PWL corners: 0, every end
    current_scale: float
    reltol: float
    vntol: float
    abstol: float
    chgtol: float
    method: str

    @property
    def pwl_values(self) -> tuple[tuple[float, float], ...]:
        """(time, value) corners of the dummy breakpoint source: alternating 0, 1."""
        return tuple((t, float(i % 2)) for i, t in enumerate(self.breakpoints))

    def text(self) -> dict[str, str]:
        """The numbers the templates print."""
        return {"stop": num(self.stop, "stop time"), "maxstep": num(self.maxstep, "maxstep"),
                "reltol": num(self.reltol), "vntol": num(self.vntol), "abstol": num(self.abstol),
                "chgtol": num(self.chgtol), "method": self.method}


def transient_setup(circuit: Circuit, schedule: Schedule, units: Units, accuracy: Accuracy) -> TransientSetup:
    span = circuit.t_final - circuit.windows[0].t_start  # one maxstep for full and chained runs
    ends = schedule.ends(circuit)
    tau = units.tau
    delta = accuracy.delta_fraction * span
    setup = TransientSetup(
        stop=float(ends[-1] * tau),
        maxstep=accuracy.maxstep_fraction * span * tau,
        switch=tuple(float((t + delta) * tau) for t in ends[:-1]),
        delta=float(delta * tau),
        ends=tuple(float(t * tau) for t in ends),
        breakpoints=(0.0,) + tuple(float(t * tau) for t in ends),
        current_scale=units.current_scale,
        reltol=accuracy.reltol,
        vntol=accuracy.vntol,
        abstol=accuracy.abstol * units.current_scale,
        chgtol=accuracy.chgtol * units.cap,
        method=accuracy.method,
    )
    for what, values in (("window times in seconds", setup.breakpoints + setup.switch),
                         ("maxstep", (setup.maxstep,)), ("current scale cap / tau", (setup.current_scale,)),
                         ("abstol", (setup.abstol,)), ("charge tolerance", (setup.chgtol,))):
        check_finite(np.asarray(values), what)
    if setup.maxstep <= 0 or setup.abstol <= 0 or setup.current_scale <= 0:
        raise CircuitError(expected_found("unit mapping", "positive scaled step and tolerances",
                                          f"maxstep {setup.maxstep!r}, abstol {setup.abstol!r}"))
    return setup


def header_details(circuit: Circuit, units: Units, accuracy: Accuracy, schedule: Schedule, copies: int,
                   target: str) -> list[str]:
    ws = schedule.windows
    lines = [
        f"target {target}; {circuit.n_nodes} nodes, {circuit.n_edges} edges, windows {ws[0]}..{ws[-1]} "
        f"of {len(circuit.windows)}; {copies} input cop{'y' if copies == 1 else 'ies'}",
        units.describe(),
        f"accuracy: {accuracy.method}, reltol {num(accuracy.reltol)}, vntol {num(accuracy.vntol)}, "
        f"abstol {num(accuracy.abstol)} (model units), maxstep {num(accuracy.maxstep_fraction)} of the span",
        f"windows switch at t_k + {num(accuracy.delta_fraction)} of the span; a PWL source makes the breakpoints",
    ]
    if copies > 1:
        lines.append("copy b of the circuit uses nodes n<k>_<b>")
    return lines

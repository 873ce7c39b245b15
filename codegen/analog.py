"""What every analog netlist shares: unit mapping, accuracy preset and the window schedule.

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
"""

from __future__ import annotations

import argparse
import enum
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kgen.circuit import Circuit
from kgen.errors import CircuitError, InputError, UnsupportedError, expected_found

from .numfmt import check_finite, num
from .registry import Target


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

    def halved(self) -> "Accuracy":
        from dataclasses import replace

        return replace(self, maxstep_fraction=self.maxstep_fraction / 2)


#: the preset for VACASK (Verilog-A) and for ngspice (B-sources: reltol 1e-10)
VERILOGA_ACCURACY = Accuracy()
SPICE_ACCURACY = Accuracy(reltol=1e-10)


def positive_float(text: str, flag: str) -> float:
    """A CLI number that must be finite and positive, written without SI suffixes."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(expected_found(flag, "a plain number such as 1e-13 (no SI suffixes)", repr(text))) from None
    if not (math.isfinite(value) and value > 0):
        raise InputError(expected_found(flag, "a finite positive number", repr(text)))
    return value


def add_unit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cap", default="1", help="farads per model capacitance unit (default 1: model units)")
    p.add_argument("--tau", default="1", help="seconds per model time unit (default 1: model units)")


def units_from_args(a: argparse.Namespace) -> Units:
    units = Units(positive_float(a.cap, "--cap"), positive_float(a.tau, "--tau"))
    if not (math.isfinite(units.current_scale) and units.current_scale > 0):
        raise InputError(expected_found("--cap / --tau", "a finite positive current scale cap / tau",
                                        repr(units.current_scale)))
    return units


@dataclass(frozen=True)
class Schedule:
    """The consecutive windows one simulator run covers (all of them, or one when chained)."""

    windows: tuple[int, ...]

    @classmethod
    def full(cls, circuit: Circuit) -> "Schedule":
        return cls(tuple(range(len(circuit.windows))))

    @classmethod
    def single(cls, w: int) -> "Schedule":
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


def transient_setup(circuit: Circuit, schedule: Schedule, units: Units, accuracy: Accuracy) -> TransientSetup:
    span = circuit.t_final - circuit.windows[0].t_start  # one maxstep for full and chained runs
    ends = schedule.ends(circuit)
    tau = units.tau
    delta = accuracy.delta_fraction * span
    setup = TransientSetup(
        stop=float(ends[-1] * tau),
        maxstep=accuracy.maxstep_fraction * span * tau,
        switch=tuple(float((t + delta) * tau) for t in ends[:-1]),
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


def initial_states(circuit: Circuit, inputs: np.ndarray | None) -> np.ndarray:
    """(B, N) node voltages at the start: input nodes from the rows of `inputs`, others 0 V."""
    if inputs is None:
        inputs = np.zeros((1, len(circuit.inputs)))
    inputs = np.asarray(inputs, dtype=np.float64)
    state = np.zeros((inputs.shape[0], circuit.n_nodes))
    state[:, np.asarray(circuit.inputs) - 1] = inputs
    check_finite(state, "initial node voltages")
    return state


def capacitances(circuit: Circuit, units: Units) -> np.ndarray:
    caps = circuit.capacitance * units.cap
    check_finite(caps, "node capacitances in farads")
    return caps


class Save(enum.Enum):
    ALL = "all"  # every node voltage
    OUTPUTS = "outputs"  # the output nodes only (e.g. mnist)


@dataclass(frozen=True, eq=False)
class AnalogOptions:
    """What both analog targets take (each adds its dialect)."""

    units: Units = field(default_factory=Units)
    accuracy: Accuracy = field(default_factory=Accuracy)
    inputs: np.ndarray | None = None  # (B, n_in): B disjoint copies; None = one copy from 0 V
    inputs_file: str | None = None  # --inputs: read once the circuit's input width is known
    save: Save = Save.ALL
    check: bool = False

    def header(self) -> dict:
        return {"cap": self.units.cap, "tau": self.units.tau, "save": self.save.value}


def enum_option(cls, value: str, flag: str):
    try:
        return cls(value)
    except ValueError:
        raise InputError(expected_found(flag, "one of " + ", ".join(m.value for m in cls), repr(value))) from None


def add_analog_arguments(p: argparse.ArgumentParser, simulator: str) -> None:
    p.add_argument("--inputs", help="(batch, n_inputs) .npy: initial conditions, one circuit copy per row "
                                    "(default: one copy starting from 0 V)")
    p.add_argument("--save", default="all", help="node voltages in the waveform: all (default) or outputs")
    p.add_argument("--check", action="store_true",
                   help=f"also simulate ({simulator}) at maxstep and maxstep / 2 and report the change of the "
                        "window-boundary voltages (has the result converged?)")
    add_unit_arguments(p)


def analog_from_args(a: argparse.Namespace, runnable: bool) -> dict:
    if a.check and not runnable:
        raise UnsupportedError(expected_found("--check", "a dialect simulated here", f"--dialect {a.dialect}"))
    return {"units": units_from_args(a), "inputs_file": a.inputs, "save": enum_option(Save, a.save, "--save"),
            "check": a.check}


def read_inputs_option(circuit: Circuit, inputs: np.ndarray | None, path: str | None) -> np.ndarray | None:
    if inputs is None and path is not None:
        from kgen.arrays import read_inputs

        return read_inputs(path, len(circuit.inputs))
    return inputs


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


def setup_text(setup: TransientSetup) -> dict[str, str]:
    return {"stop": num(setup.stop, "stop time"), "maxstep": num(setup.maxstep, "maxstep"),
            "reltol": num(setup.reltol), "vntol": num(setup.vntol), "abstol": num(setup.abstol),
            "chgtol": num(setup.chgtol), "method": setup.method}


def analog_target(name: str, description: str, add_arguments, options_from_args, writer) -> Target:
    """A registry Target for an analog netlist writer `writer(circuit, options, folder, initial,
    schedule) -> files`: the inputs become initial conditions, `--check` reruns at half the
    maxstep, and the manifest names the dialect."""
    def generate(circuit: Circuit, options, folder: Path) -> list[str]:
        inputs = read_inputs_option(circuit, options.inputs, options.inputs_file)
        files = writer(circuit, options, folder, initial_states(circuit, inputs), Schedule.full(circuit))
        if options.check:
            from .check import check_convergence

            files += check_convergence(circuit, name, options, inputs, folder)
        return files

    def header(options) -> dict:
        return {"dialect": options.dialect.value, **options.header()}

    return Target(name=name, description=description, add_arguments=add_arguments,
                  options_from_args=options_from_args, generate=generate, header=header)

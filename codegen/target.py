"""The analog targets' common shape: options with the shared flags, initial conditions, `--check`.

`AnalogTarget` is a kgen.targets.Target whose subclasses (spice, veriloga)
supply `write_netlist`: the one writer both `kgen --target T` (through
`generate`) and the T view's runner (kgen.codegen.runner) call, so a view
simulates exactly the files the target exports. Each options class adds its
`dialect`, an Enum whose members name their simulator (None: golden text only).
"""

from __future__ import annotations

import enum
from abc import abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from kgen.errors import UnsupportedError, expected_found
from kgen.options import option
from kgen.targets import Target

from .analog import (Accuracy, Save, Schedule, Units, accuracy_option, cap_option, check_accuracy, check_option,
                     check_units, save_option, tau_option)

if TYPE_CHECKING:
    from kgen.circuit import Circuit

    from .netlist import WrittenNetlist
    from .simulator import Simulator


class Dialect(enum.Enum):
    """A netlist language of a target: an Enum (parsed from --dialect) whose members map to spec objects
    (template, file name, spellings, simulator). A subclass names its table in `_specs`."""

    @classmethod
    def _specs(cls) -> dict:
        raise NotImplementedError

    @property
    def spec(self):
        return type(self)._specs()[self]

    @property
    def simulator(self) -> Simulator | None:
        """The simulator that runs this dialect here (None: golden text only)."""
        return self.spec.simulator


def inputs_option():
    return option(None, help="(batch, n_data) .npy: initial conditions, one circuit copy per row "
                             "(default: one copy starting from 0 V)", metavar="X.npy")


@dataclass(frozen=True, eq=False)
class AnalogTargetOptions:
    """What both analog targets take; a subclass declares `dialect` (first flag) and its `accuracy` preset."""

    dialect: enum.Enum = None  # declared again by each subclass as an option with its Enum
    inputs: str | np.ndarray | None = inputs_option()
    save: Save = save_option()
    check: bool = check_option()
    cap: float = cap_option()
    tau: float = tau_option()
    accuracy: float | None = accuracy_option()
    preset: Accuracy = Accuracy()  # the transient preset (not a flag): --accuracy scales it, --check halves maxstep

    def __post_init__(self):
        check_accuracy(self.accuracy)
        if self.check and self.dialect.simulator is None:
            raise UnsupportedError(expected_found("--check", "a dialect simulated here",
                                                  f"--dialect {self.dialect.value}"))
        check_units(self.cap, self.tau)

    @property
    def units(self) -> Units:
        return Units(self.cap, self.tau)

    @property
    def transient(self) -> Accuracy:
        """The settings the netlists print: the preset, or the one --accuracy derives from it."""
        return self.preset.for_error(self.accuracy)

    def halved(self):
        """These options at half the maxstep (what --check compares against)."""
        return replace(self, preset=self.transient.halved(), accuracy=None)

    def header(self) -> dict:
        out = {"dialect": self.dialect.value, "cap": self.cap, "tau": self.tau, "save": self.save.value}
        if self.accuracy is not None:  # only then: the manifests of preset exports stay as they were
            out["accuracy"] = self.accuracy
        return out


class AnalogTarget(Target):
    Options: ClassVar[type[AnalogTargetOptions]]

    def header(self, options: AnalogTargetOptions) -> dict:
        return options.header()

    @abstractmethod
    def write_netlist(self, circuit: Circuit, options: AnalogTargetOptions, folder: Path, initial: np.ndarray,
                      schedule: Schedule, loads: dict[str, str] | None = None) -> WrittenNetlist:
        """Write one netlist of B copies (the B rows of `initial`, (B, N) volts) over `schedule` into
        `folder`; `loads` maps a module file to the compiled file the netlist loads instead."""

    def simulator(self, options: AnalogTargetOptions) -> Simulator:
        sim = options.dialect.simulator
        if sim is None:
            raise UnsupportedError(expected_found(f"--dialect {options.dialect.value}", "a dialect simulated here",
                                                  "a golden-text dialect"))
        return sim

    def initial(self, circuit: Circuit, options: AnalogTargetOptions) -> np.ndarray:
        """(B, N) node voltages at the start from `--inputs` (read with the circuit's data width)."""
        from kgen.layout import check_data, initial_state

        if options.inputs is None:
            x = np.zeros((1, circuit.n_data))
        elif isinstance(options.inputs, (str, Path)):
            from kgen.arrays import read_inputs

            x = read_inputs(options.inputs, circuit.n_data)
        else:
            x = check_data(circuit, options.inputs, "--inputs")
        return initial_state(circuit, x)

    def generate(self, model, folder: Path, options: AnalogTargetOptions) -> list[str]:
        circuit = model.circuit
        initial = self.initial(circuit, options)
        written = self.write_netlist(circuit, options, folder, initial, Schedule.full(circuit))
        files = list(written.files)
        if options.check:
            from .check import check_convergence

            files += check_convergence(self, circuit, options, initial, folder, written.context.setup.maxstep)
        return files

"""The spice and veriloga views: `kgen run|verify --view spice|veriloga`, `Model.run(x, view="spice")`.

Each view simulates the netlists its target exports (the same writer, the
target's runnable dialect and accuracy preset) through kgen.codegen.runner,
and returns a Trace: the start and every window boundary, with
`Record.STEPS` also the simulator's time points. `trace.extra["label"]` says
how it ran ("ngspice, one switched transient, 3 simulator runs, 4.1 s"),
`trace.extra["details"]` counts the simulator runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kgen.options import option
from kgen.views import Record, View

from . import spice, veriloga
from .analog import (Save, accuracy_option, cap_option, check_accuracy, check_option, check_units, positive_count,
                     save_option, tau_option)
from .target import AnalogTarget


def chained_option():
    return option(False, help="one transient per window, each starting from the previous window's final "
                              "voltages (17 digits), instead of one switched transient")


def workers_option():
    return option(None, help="parallel simulator processes (default: the CPU count)", metavar="N")


def copies_option():
    return option(None, help="inputs per simulator run, as disjoint circuit copies in one netlist (default: 1 "
                             "for ngspice; VACASK spreads the inputs over the workers)", metavar="N")


@dataclass(frozen=True)
class AnalogViewOptions:
    chained: bool = chained_option()
    save: Save = save_option()
    cap: float = cap_option()
    tau: float = tau_option()
    workers: int | None = workers_option()
    copies: int | None = copies_option()
    accuracy: float | None = accuracy_option()
    check: bool = check_option()

    def __post_init__(self):
        check_units(self.cap, self.tau)
        check_accuracy(self.accuracy)
        positive_count(self.workers, "--workers")
        positive_count(self.copies, "--copies")


@dataclass(frozen=True)
class SpiceViewOptions(AnalogViewOptions):
    title = "spice view"


@dataclass(frozen=True)
class VerilogAViewOptions(AnalogViewOptions):
    title = "veriloga view"


class AnalogView(View):
    target: ClassVar[AnalogTarget]  # whose netlists it simulates

    def run(self, model, x, options: AnalogViewOptions, record: Record = Record.BOUNDARIES):
        from kgen.layout import initial_state

        from .runner import RunSettings, simulate

        target = self.target
        circuit = model.circuit
        target_options = target.options(save=options.save, cap=options.cap, tau=options.tau,
                                        accuracy=options.accuracy)
        settings = RunSettings(chained=options.chained, workers=options.workers, copies=options.copies)
        initial = initial_state(circuit, x)
        trace = simulate(circuit, target, target_options, initial, settings, record, self.name)
        setting = target_options.transient
        details = {"maxstep": setting.maxstep_fraction * abs(circuit.t_final - circuit.windows[0].t_start)
                   * options.tau, "reltol": setting.reltol}
        if options.check:
            import numpy as np

            again = simulate(circuit, target, target_options.halved(), initial, settings, Record.BOUNDARIES,
                             self.name)
            ends = np.searchsorted(trace.t, again.t[1:]) if record is Record.STEPS else slice(1, None)
            with np.errstate(invalid="ignore"):
                details["change_at_half_maxstep"] = float(np.nanmax(np.abs(trace.v[ends] - again.v[1:])))
        trace.extra.setdefault("details", {}).update(details)
        return trace


class SpiceView(AnalogView):
    name = "spice"
    description = "ngspice on the B-source netlist (several inputs per run as disjoint copies, runs over the cores)"
    Options = SpiceViewOptions
    target = spice.TARGET


class VerilogAView(AnalogView):
    name = "veriloga"
    description = "VACASK on the Verilog-A modules compiled by openvaf-r"
    Options = VerilogAViewOptions
    target = veriloga.TARGET


SPICE_VIEW = SpiceView()
VERILOGA_VIEW = VerilogAView()

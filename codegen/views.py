"""`kgen run --view spice|veriloga` and the matching `kgen verify` verifiers."""

from __future__ import annotations

import numpy as np

from kgen.circuit import Circuit
from kgen.verify import Boundaries, VerifyOptions, register_verifier
from kgen.views import RunOptions, register_view

from .simulate import AnalogView, SimOptions, simulate


def _run(view: AnalogView, circuit: Circuit, inputs: np.ndarray, opts: RunOptions) -> np.ndarray:
    chained = bool(opts.get("chained", False))
    return simulate(circuit, inputs, SimOptions(view=view, chained=chained)).outputs(circuit)


@register_view("spice")
def run_spice(circuit: Circuit, inputs: np.ndarray, opts: RunOptions) -> np.ndarray:
    """ngspice on the B-source netlist (several inputs per run as disjoint copies, runs over the cores)."""
    return _run(AnalogView.SPICE, circuit, inputs, opts)


@register_view("veriloga")
def run_veriloga(circuit: Circuit, inputs: np.ndarray, opts: RunOptions) -> np.ndarray:
    """VACASK on the Verilog-A modules compiled by openvaf-r."""
    return _run(AnalogView.VERILOGA, circuit, inputs, opts)


def _verifier(view: AnalogView):
    def verify(circuit: Circuit, inputs: np.ndarray, opts: VerifyOptions) -> Boundaries:
        res = simulate(circuit, inputs, SimOptions(view=view, chained=opts.chained, waveform=opts.waveform))
        label = {AnalogView.SPICE: "ngspice", AnalogView.VERILOGA: "VACASK"}[view]
        mode = "chained per-window runs" if opts.chained else "one switched transient"
        return Boundaries(res.times, res.states, res.waveform,
                          f"{label}, {mode}, {res.runs} simulator runs, {res.seconds:.1f} s")
    return verify


register_verifier("spice")(_verifier(AnalogView.SPICE))
register_verifier("veriloga")(_verifier(AnalogView.VERILOGA))

"""`--check`: has the transient converged? Simulate at maxstep and maxstep / 2 and report the change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kgen.circuit import Circuit

from .analog import AnalogOptions, initial_states, transient_setup, Schedule
from .numfmt import num
from .simulate import AnalogView, SimOptions, simulate


def check_convergence(circuit: Circuit, view: str, options: AnalogOptions, inputs: np.ndarray | None,
                      folder: Path) -> list[str]:
    """Run the exported netlist's inputs twice; write check.json and print one summary line."""
    x = initial_states(circuit, inputs)[:, np.asarray(circuit.inputs) - 1]
    base = SimOptions(view=AnalogView(view), units=options.units, accuracy=options.accuracy)
    half = SimOptions(view=AnalogView(view), units=options.units, accuracy=options.accuracy.halved())
    a, b = simulate(circuit, x, base), simulate(circuit, x, half)
    change = np.abs(a.states[1:] - b.states[1:])  # (W, B, N)
    maxstep = transient_setup(circuit, Schedule.full(circuit), options.units, options.accuracy).maxstep
    report = {
        "view": view,
        "maxstep": maxstep,
        "maxstep_halved": maxstep / 2,
        "max_change": float(np.nanmax(change)),
        "max_change_per_boundary": [float(v) for v in np.nanmax(change, axis=(1, 2))],
        "boundaries": [float(t) for t in circuit.times[1:]],
    }
    (folder / "check.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"check: halving maxstep ({num(maxstep)} -> {num(maxstep / 2)} s) changes the window-boundary "
          f"voltages by at most {report['max_change']:.3g} V")
    return ["check.json"]

"""`--check`: has the transient converged? Simulate at maxstep and maxstep / 2 and report the change."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .analog import Save
from .numfmt import num
from .runner import simulate


def check_convergence(target, circuit, options, initial: np.ndarray, folder: Path, maxstep: float) -> list[str]:
    """Run the exported netlist's inputs (`initial`, (B, N)) twice with `target`'s netlists at the
    exported `maxstep` and half of it; write check.json and print one summary line."""
    base = replace(options, save=Save.ALL, check=False, inputs=None)
    half = base.halved()
    a, b = simulate(circuit, target, base, initial), simulate(circuit, target, half, initial)
    change = np.abs(a.v[1:] - b.v[1:])  # (W, B, N)
    report = {
        "view": target.name,
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

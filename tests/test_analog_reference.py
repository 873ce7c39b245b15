"""Every 2-D reference checkpoint in ngspice and VACASK: node voltages at every window boundary
and at the end within 1e-4 of the float reference (dopri5, float64, rtol = atol = 1e-10).

Two standard normal inputs per checkpoint, one netlist each, the two netlists
in parallel (several inputs as disjoint copies in one netlist are held to one
input per netlist in test_analog_sim.py), one switched transient per
simulator with the DESIGN.md accuracy preset.
"""

import numpy as np
import pytest

from kgen.codegen.tools import NGSPICE, OPENVAF, VACASK
from kgen.modelfile import load_model
from kgen.tools import missing_reason

TWO_D = ("twomoon", "8gaussians", "pinwheel", "swissroll", "circle", "2spirals", "potential1", "potential2")
MISSING = missing_reason(NGSPICE, VACASK, OPENVAF)


@pytest.mark.slow
@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
@pytest.mark.parametrize("name", TWO_D)
def test_checkpoint_in_ngspice_and_vacask(reference, name):
    model = load_model(reference / name)
    circuit = model.circuit
    x = np.random.default_rng(0).standard_normal((2, circuit.n_data))
    ref = model.run(x, view="float", method="dopri5", rtol=1e-10, atol=1e-10, dtype="float64")
    assert ref.v.shape == (len(circuit.windows) + 1, 2, circuit.n_nodes)
    for view in ("spice", "veriloga"):
        res = model.run(x, view=view, workers=2)
        assert res.extra["details"]["simulator_runs"] >= 2  # the inputs over two processes
        err = np.abs(res.v - ref.v)  # every boundary, the end included
        assert err.max() <= 1e-4, (view, err.max(axis=(1, 2)))

"""Every 2-D reference checkpoint in ngspice and VACASK: node voltages at every window boundary
and at the end within 1e-4 of the float reference (dopri5, float64, rtol = atol = 1e-10).

Four standard normal inputs per checkpoint, simulated as disjoint copies of
the circuit (two per netlist, the two netlists in parallel), one switched
transient per simulator with the DESIGN.md accuracy preset.
"""

import numpy as np
import pytest

from kgen.codegen.simulate import AnalogView, SimOptions, simulate
from kgen.codegen.tools import Tool, missing_reason
from kgen.original import load_any
from kgen.verify import reference_boundaries

TWO_D = ("twomoon", "8gaussians", "pinwheel", "swissroll", "circle", "2spirals", "potential1", "potential2")
MISSING = missing_reason(Tool.NGSPICE) or missing_reason(Tool.VACASK) or missing_reason(Tool.OPENVAF)


@pytest.mark.slow
@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
@pytest.mark.parametrize("name", TWO_D)
def test_checkpoint_in_ngspice_and_vacask(reference, name):
    circuit = load_any(reference / name)
    x = np.random.default_rng(0).standard_normal((4, len(circuit.inputs)))
    ref = reference_boundaries(circuit, x)
    assert ref.states.shape == (len(circuit.windows) + 1, 4, circuit.n_nodes)
    for view in AnalogView:
        res = simulate(circuit, x, SimOptions(view=view, workers=2))
        assert res.runs >= 2  # several inputs per run, runs spread over two processes
        err = np.abs(res.states - ref.states)  # every boundary, the end included
        assert err.max() <= 1e-4, (view.value, err.max(axis=(1, 2)))

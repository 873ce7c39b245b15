"""The fixed-point twin on the 2-D reference checkpoints (needs ../shared; slow).

For each checkpoint: `quantize` with an 18-bit read word picks dt and the
formats; then 384 fixed standard-normal inputs (not the calibration set)
run bit-exact and in float Euler at that dt. The error is bounded by the
derived bound at every step, node and input, and the model's output (the
output nodes at the end of the last window) is within 1e-2 for every input;
max, mean and p99 over the window boundaries and at the output are printed.
Generation models run noise -> data (their sampling direction, the one the
twin is sized for) and also report the mean sample displacement against
float dopri5. In that direction the flows spread their inputs in the middle
windows before drawing them onto the data (circle: a ring), and an error
there grows with the spread, up to 2.9e-2 on circle's hidden windows, then
shrinks again: the output is what is held to 1e-2.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TOY
from kgen.circuit import ModelTask
from kgen.emulation.bound import propagate
from kgen.emulation.calibrate import dopri5_boundaries
from kgen.quant import QuantConfig
from kgen.emulation.floatref import FloatEuler
from kgen.emulation.interp import Emulator
from kgen.emulation.lower import lower
from kgen.emulation.quantize import QuantizeOptions, quantize
from kgen.modelfile import load_model

TWO_D = TOY + ("potential1", "potential2")


def _quantized(reference, name):
    circuit = load_model(reference / name).circuit
    calib = np.random.RandomState(0).randn(500, 2)
    res = quantize(circuit, calib, QuantizeOptions(read_width=18, ref_samples=128, eval_samples=128, table=False),
                   say=lambda msg: None)
    return circuit, res


@pytest.mark.slow
@pytest.mark.parametrize("name", TWO_D)
def test_bit_exact_within_bound_and_output_within_1e_2_of_float_euler(reference, name):
    circuit, res = _quantized(reference, name)
    prog = res.program
    assert prog.read.width == 18 and prog.integrator.width == 32
    assert prog.reverse is False  # sized for the direction the twin runs (flows: noise -> data, sampling)
    x = np.random.RandomState(1234).randn(384, 2)  # three of the bound's 128-input passes
    run = Emulator(prog).run(x, record=True)
    assert run.total_saturations == 0 and run.total_overflows == 0, run.summary()
    br = propagate(circuit, prog, x)
    err = np.abs(prog.integrator.values(run.states) - br.float_states)  # every step, node and input
    assert np.all(err <= br.bound), float((err / br.bound).max())
    marks = prog.boundary_steps()
    per_input = err[marks].max(axis=(0, 1))
    at_output = err[-1][np.asarray(circuit.outputs) - 1].max(axis=0)
    bound = br.bound[marks].max(axis=(0, 1))
    line = (f"{name}: dt {res.step.dt:g} ({prog.total_steps} steps), read {prog.read}, params "
            f"{res.config.param_width} bits: |fixed - float Euler| at the boundaries max {per_input.max():.3g}, "
            f"mean {per_input.mean():.3g}, p99 {np.quantile(per_input, 0.99):.3g}; at the output max "
            f"{at_output.max():.3g}, p99 {np.quantile(at_output, 0.99):.3g}; bound max {bound.max():.3g}, "
            f"p99 {np.quantile(bound, 0.99):.3g}")
    assert at_output.max() <= 1e-2, line
    if circuit.task is ModelTask.FLOW:
        xs = x[:256]
        ref = dopri5_boundaries(circuit, xs, prog.reverse)[-1]
        fixed = prog.integrator.values(run.final[:, :256])
        euler = br.float_states[-1][:, :256]
        d_fixed = np.sqrt(((fixed - ref) ** 2).sum(0)).mean()
        d_euler = np.sqrt(((euler - ref) ** 2).sum(0)).mean()
        line += f"; sample displacement vs dopri5: fixed {d_fixed:.3g}, float Euler {d_euler:.3g}"
        assert abs(d_fixed - d_euler) <= 1e-2, line
    print(line)


@pytest.mark.slow
def test_read_feedback_is_what_keeps_circle_within_1e_2(reference):
    """The plain rounded read copy (DESIGN's first contract) misses 1e-2 on circle; the noise-shaped one holds."""
    circuit = load_model(reference / "circle").circuit
    x = np.random.RandomState(1234).randn(300, 2)
    steps = (500,) * 4  # dt 1e-3
    _, u = FloatEuler(circuit).run(x, steps, reverse=True, marks=[2000])
    errs = {}
    for fb in (False, True):
        cfg = QuantConfig(read_feedback=fb, param_width=20, steps=steps)
        prog = lower(circuit, cfg, reverse=True)
        errs[fb] = float(np.abs(prog.integrator.values(Emulator(prog).run(x).final) - u[0]).max())
    print(f"circle, s7.11 read, 20-bit parameters, dt 1e-3: plain read {errs[False]:.3g}, noise-shaped "
          f"{errs[True]:.3g}")
    assert errs[False] > 1e-2 > errs[True]

"""The bit-exact model: equal to a plain scalar interpreter, schedule-independent, counting saturation,
and within the derived error bound of float Euler."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import _fixed_scalar
from kgen.emulation.bound import propagate
from kgen.quant import QuantConfig
from kgen.emulation.floatref import FloatEuler
from kgen.emulation.interp import FLAG_READ_SATURATE, FLAG_SATURATE, Emulator
from kgen.emulation.lower import lower
from kgen.qformat import QFormat
from kgen.examples import demo_circuit, random_circuit
from kgen.model import KirchhoffNet
from kgen.solver import Solver

MIXED = ("ShiftTanh2", "ShiftTanh1", "ShiftRelu1", "ShiftLeakyRelu2", "Conductance", "AffineLeakyRelu", "DiffRelu")


@pytest.mark.parametrize("seed,feedback,reverse", [(0, True, False), (1, False, False), (2, True, True),
                                                   (3, False, True)])
def test_vectorised_model_equals_the_scalar_interpreter(seed, feedback, reverse):
    circuit = random_circuit(seed, n_nodes=5, n_windows=3, n_edges=18, kinds=MIXED)
    cfg = QuantConfig(read=QFormat.parse("s4.10"), integrator=QFormat.parse("s4.20"), read_feedback=feedback,
                      param_width=14, steps=(3, 2, 4))
    prog = lower(circuit, cfg, reverse=reverse)
    x = np.random.RandomState(seed).randn(3, len(circuit.inputs)) * 2
    emu = Emulator(prog, chunk_elements=8, threads=2)
    res = emu.run(x, record=True)
    X0, _ = emu.load(x)
    states, sats = _fixed_scalar.run(prog, X0.tolist())
    assert np.array_equal(res.states, np.array(states, dtype=np.int64))
    assert res.total_saturations == sats
    assert {kp.kind for kp in prog.kinds} >= {"ShiftTanh2", "ShiftLeakyRelu2", "ShiftRelu1"}


def test_results_do_not_depend_on_chunks_threads_or_batch_split():
    circuit = random_circuit(5, n_nodes=30, n_windows=2, n_edges=400, kinds=MIXED)
    prog = lower(circuit, QuantConfig(steps=(7, 5)))
    x = np.random.RandomState(0).randn(37, len(circuit.inputs))
    ref = Emulator(prog, chunk_elements=1 << 20, threads=1).run(x, record=True)
    for chunk, threads in ((64, 1), (500, 2), (4096, 3)):
        got = Emulator(prog, chunk_elements=chunk, threads=threads).run(x, record=True)
        assert np.array_equal(got.states, ref.states) and np.array_equal(got.flags, ref.flags)
    halves = [Emulator(prog).run(x[a:b]).final for a, b in ((0, 20), (20, 37))]
    assert np.array_equal(np.concatenate(halves, axis=1), ref.final)
    marks = prog.boundary_steps()
    part = Emulator(prog).run(x, marks=marks)
    assert np.array_equal(part.states, ref.states[marks]) and np.array_equal(part.times, ref.times[marks])


def test_saturation_is_counted_per_node_and_step_never_silent():
    circuit = demo_circuit()
    prog = lower(circuit, QuantConfig(read=QFormat.parse("s2.10"), integrator=QFormat.parse("s2.24"),
                                      steps=(4, 4, 4)))
    x = np.array([[0.5, 0.5, 0.5], [3.0, -5.0, 0.0]])  # the second input does not fit [-2, 2)
    res = Emulator(prog).run(x, record=True)
    assert res.saturations.shape == (prog.total_steps + 1, circuit.n_nodes)
    assert res.saturations[0, 0] >= 1 and res.saturations[0, 1] >= 1  # input load, nodes 1 and 2
    assert res.flags[0, 0, 1] & FLAG_SATURATE and res.flags[0, 0, 1] & FLAG_READ_SATURATE
    assert not res.flags[0, :, 0].any()
    assert res.total_saturations == int(res.saturations.sum()) > 0
    assert "saturations" in res.summary() and "node 1" in res.summary()
    assert res.total_overflows == 0  # the accumulator is sized so it cannot wrap
    ok = Emulator(prog).run(x[:1])
    assert ok.total_saturations == 0 and ok.summary() == ""


def test_float_reference_is_the_torch_model_with_euler():
    circuit = demo_circuit()
    x = np.random.RandomState(0).randn(5, 3)
    for reverse in (False, True):
        u, _ = FloatEuler(circuit).run(x, (20, 20, 20), reverse=reverse)
        model = KirchhoffNet(circuit, torch.float64)
        with torch.no_grad():
            v, _ = model.solve(model.initial_state(torch.as_tensor(x)),
                               Solver(method="euler", steps=20, dtype="float64"), reverse=reverse)
        np.testing.assert_allclose(u, v.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("feedback", [True, False])
def test_fixed_point_is_within_the_derived_bound_of_float_euler(feedback):
    circuit = random_circuit(11, n_nodes=6, n_windows=3, n_edges=24, kinds=MIXED)
    prog = lower(circuit, QuantConfig(read=QFormat.parse("s4.12"), integrator=QFormat.parse("s4.26"),
                                      read_feedback=feedback, steps=(25, 25, 25)))
    x = np.random.RandomState(2).randn(64, len(circuit.inputs))
    run = Emulator(prog).run(x, record=True)
    assert run.total_saturations == 0
    br = propagate(circuit, prog, x)
    err = np.abs(prog.integrator.values(run.states) - br.float_states)
    assert np.all(err <= br.bound)
    assert err.max() < 5e-3 and br.bound.max() < 0.1  # meaningful, not vacuous
    # the componentwise variant (used above 32 nodes) is also a bound, only looser
    cw = propagate(circuit, prog, x, method="componentwise")
    assert np.all(err <= cw.bound) and np.array_equal(cw.float_states, br.float_states)


def test_the_bound_fails_when_the_model_is_perturbed():
    """The bound is tight enough to catch a one-LSB-per-step bias in the integrator."""
    circuit = random_circuit(11, n_nodes=6, n_windows=3, n_edges=24, kinds=MIXED)
    prog = lower(circuit, QuantConfig(steps=(25, 25, 25)))
    x = np.random.RandomState(2).randn(16, len(circuit.inputs))
    br = propagate(circuit, prog, x)
    bad = replace(prog, windows=tuple(replace(w, coef=w.coef + np.int64(2 ** max(0, w.coef_fmt.frac_bits - 12)))
                                      for w in prog.windows))
    err = np.abs(bad.integrator.values(Emulator(bad).run(x, record=True).states) - br.float_states)
    assert np.any(err > br.bound)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_read_feedback_telescopes_the_read_error(seed):
    """With the rounding residue carried, the coarse read word costs less accuracy (on the 2-D reference
    checkpoints 3-4x less; test_fixed_reference measures that)."""
    circuit = random_circuit(seed, n_nodes=5, n_windows=2, n_edges=20)
    x = np.random.RandomState(0).randn(50, 2)
    u, _ = FloatEuler(circuit).run(x, (200, 200))
    errs = {}
    for fb in (False, True):
        prog = lower(circuit, QuantConfig(read=QFormat.parse("s4.8"), integrator=QFormat.parse("s4.28"),
                                          read_feedback=fb, param_width=28, steps=(200, 200)))
        errs[fb] = np.abs(prog.integrator.values(Emulator(prog).run(x).final) - u).max()
    assert errs[True] < 0.85 * errs[False], errs

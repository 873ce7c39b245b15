"""Calibration pieces: the dopri5 reference, the step choice, the stability bound, the integer bits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgen.emulation.calibrate import (choose_step, dopri5_boundaries, integer_bits, observe_ranges,
                                      spectral_radius_max)
from kgen.emulation.floatref import FloatEuler
from kgen.examples import demo_circuit, random_circuit
from kgen.model import KirchhoffNet
from kgen.solver import Solver


def test_dopri5_reference_matches_torchdiffeq():
    circuit = demo_circuit()
    x = np.random.RandomState(0).randn(16, 3)
    for reverse in (False, True):
        ref = dopri5_boundaries(circuit, x, reverse, tol=1e-9)
        model = KirchhoffNet(circuit, torch.float64)
        with torch.no_grad():
            _, marks = model.solve(model.initial_state(torch.as_tensor(x)),
                                   Solver(method="dopri5", rtol=1e-9, atol=1e-9, dtype="float64"),
                                   reverse=reverse, record=True)
        np.testing.assert_allclose(ref, np.stack([v.numpy() for _, v in marks]), rtol=2e-6, atol=5e-6)


def test_step_choice_takes_the_largest_candidate_meeting_the_tolerance():
    circuit = demo_circuit()
    x = np.random.RandomState(1).randn(32, 3)
    ref, interior = dopri5_boundaries(circuit, x, False, inner=4)
    cands = (0.1, 0.05, 0.02, 0.01, 0.005)
    loose = choose_step(circuit, x, ref, interior, False, cands, tol=1.0)
    assert loose.dt == 0.1 and loose.met and len(loose.rows) == 1
    tight = choose_step(circuit, x, ref, interior, False, cands, tol=2e-2)
    errs = {r.dt: r.euler_mean for r in tight.rows}
    assert tight.met and errs[tight.dt] <= 2e-2 and tight.dt == 0.02
    assert all(errs[d] > 2e-2 for d in errs if d > tight.dt)  # every coarser one failed
    assert sorted(errs) == sorted(d for d in cands if d >= tight.dt)
    impossible = choose_step(circuit, x, ref, interior, False, cands, tol=1e-12)
    assert not impossible.met and impossible.dt == 0.005 and "finest" in impossible.note
    forced = choose_step(circuit, x, ref, interior, False, cands, tol=1.0, forced=0.03)
    assert forced.dt == 0.03 and forced.steps == (17, 17, 17)


def test_stability_bound_uses_the_jacobian_spectral_radius():
    circuit = random_circuit(2, n_nodes=6, n_edges=30)
    fe = FloatEuler(circuit)
    v = fe.initial_state(np.random.RandomState(0).randn(8, 2))
    exact = fe.spectral_radius(0, v)
    gersh = fe.spectral_radius(0, v, dense_max=0)
    assert np.all(gersh >= exact - 1e-12) and np.all(exact > 0)
    x = np.random.RandomState(0).randn(8, 2)
    _, interior = dopri5_boundaries(circuit, x, False, inner=3)
    rho = spectral_radius_max(fe, interior)
    ref, _ = dopri5_boundaries(circuit, x, False, inner=3)
    choice = choose_step(circuit, x, ref, interior, False, (10.0, 0.05), tol=1e9)
    assert choice.dt_stable == pytest.approx(2 / rho)
    assert [r.stable for r in choice.rows] == [10.0 <= 2 / rho] + ([0.05 <= 2 / rho] if len(choice.rows) > 1 else [])
    assert choice.dt == 0.05  # dt = 10 is not stable, so the search goes on


def test_integer_bits_and_ranges():
    assert [integer_bits(v, 1.25) for v in (0.3, 1.0, 25.5, 25.6, 59.0)] == [1, 2, 6, 7, 8]  # 32 needs 7
    for v in (0.01, 0.7, 3.3, 40.0, 1000.0):
        i = integer_bits(v, 1.25)
        assert 2 ** (i - 1) > 1.25 * v >= (2 ** (i - 2) if i > 1 else 0)
    circuit = demo_circuit()
    x = np.random.RandomState(0).randn(50, 3)
    r = observe_ranges(circuit, x, (10, 10, 10), False)
    _, states = FloatEuler(circuit).run(x, (10, 10, 10), record=True)
    np.testing.assert_array_equal(r.node_max, np.abs(states).max(axis=(0, 2)))
    assert r.overall == np.abs(states).max() and r.sample.size > 0

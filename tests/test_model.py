"""The torch reference model against analytic and independent solutions."""

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import sympy
import torch

from kgen.circuit import Circuit, Window
from kgen.devices import DEVICE_KINDS, V_DES, V_SRC
from kgen.examples import random_circuit
from kgen.model import KirchhoffNet
from kgen.solver import Solver

TIGHT = Solver(method="dopri5", rtol=1e-12, atol=1e-12, dtype="float64")


def linear_circuit(seed=3, n=5, windows=3):
    rng = np.random.RandomState(seed)
    src, des = [], []
    for i in range(n + 1):
        for j in range(i + 1, n + 1):
            src.append(i), des.append(j)
    e = len(src)
    wins = []
    for w in range(windows):
        params = np.zeros((3, e))
        params[0] = rng.uniform(0.1, 2.0, e)  # conductances
        active = np.flatnonzero(rng.rand(e) < 0.8)
        wins.append(Window(0.3 * w, 0.3 * (w + 1), active, params[:, active]))
    return Circuit(n_nodes=n, capacitance=rng.uniform(0.5, 2.0, n), src=src, des=des, kinds=("Conductance",),
                   edge_kind=np.zeros(e, int), windows=tuple(wins), inputs=tuple(range(1, n + 1)),
                   outputs=tuple(range(1, n + 1)))


def system_matrix(c: Circuit, w: int) -> np.ndarray:
    """dv/dt = A v for a conductance network: A = -C^-1 (weighted Laplacian, ground removed)."""
    n = c.n_nodes
    lap = np.zeros((n + 1, n + 1))
    win = c.windows[w]
    for col, e in enumerate(win.edges):
        g, a, b = win.params[0, col], c.src[e], c.des[e]
        lap[a, a] += g
        lap[b, b] += g
        lap[a, b] -= g
        lap[b, a] -= g
    return -lap[1:, 1:] / c.capacitance[:, None]


def test_linear_network_matches_matrix_exponential():
    c = linear_circuit()
    x = np.random.RandomState(0).normal(size=(6, c.n_nodes))
    want = x.T.copy()
    for w, win in enumerate(c.windows):
        want = scipy.linalg.expm(system_matrix(c, w) * win.duration) @ want
    got = KirchhoffNet(c, torch.float64)(torch.tensor(x), TIGHT).numpy()
    assert np.max(np.abs(got - want.T)) < 1e-9


def independent_rhs(c: Circuit, w: int):
    """A per-edge loop straight from the sympy expressions: an implementation sharing no code with the model."""
    win = c.windows[w]
    fns = {name: sympy.lambdify((V_SRC, V_DES) + DEVICE_KINDS[name].params, DEVICE_KINDS[name].expression(), "math")
           for name in c.kinds}
    edges = [(int(c.src[e]), int(c.des[e]), fns[c.kinds[c.edge_kind[e]]],
              win.params[:DEVICE_KINDS[c.kinds[c.edge_kind[e]]].n_rows, col]) for col, e in enumerate(win.edges)]

    def rhs(t, v):
        vg = np.concatenate([[0.0], v])
        dv = np.zeros_like(vg)
        for a, b, f, p in edges:
            i = f(vg[a], vg[b], *p)
            dv[a] -= i
            dv[b] += i
        return dv[1:] / c.capacitance
    return rhs


def test_nonlinear_mixed_multiwindow_matches_solve_ivp():
    c = random_circuit(seed=11, n_nodes=5, n_windows=3, n_edges=18)
    assert len(c.kinds) == 5
    x = np.random.RandomState(1).normal(size=(3, len(c.inputs)))
    got = KirchhoffNet(c, torch.float64)(torch.tensor(x), TIGHT).numpy()
    for b in range(x.shape[0]):
        v = np.zeros(c.n_nodes)
        v[np.array(c.inputs) - 1] = x[b]
        for w, win in enumerate(c.windows):
            sol = scipy.integrate.solve_ivp(independent_rhs(c, w), (win.t_start, win.t_end), v, method="DOP853",
                                            rtol=1e-10, atol=1e-12)
            v = sol.y[:, -1]
        want = v[np.array(c.outputs) - 1]
        assert np.max(np.abs(got[b] - want)) < 1e-7


def original_rhs(c: Circuit, w: int, x: torch.Tensor) -> torch.Tensor:
    """The original formulation (batch-major, ground column, gather, two scatter_add) for one-kind windows."""
    win = c.windows[w]
    src, des = torch.tensor(c.src[win.edges]), torch.tensor(c.des[win.edges])
    p = torch.tensor(win.params)
    aux = torch.cat((torch.zeros_like(x[..., :1]), x), dim=-1)
    vs, vd = aux[..., src], aux[..., des]
    i = torch.tanh(vs * p[0] + vd * p[1] + p[2])  # ShiftTanh2
    res = torch.cat((torch.zeros_like(x[..., :1]), torch.zeros_like(x)), dim=-1)
    res.scatter_add_(-1, src.expand_as(i), -i)
    res.scatter_add_(-1, des.expand_as(i), i)
    return res[..., 1:]


def test_rhs_equals_original_formulation(reference):
    from kgen.modelfile import load_model

    c = load_model(reference / "twomoon").circuit
    model = KirchhoffNet(c, torch.float64)
    x = torch.randn(7, 2, dtype=torch.float64)
    for w in range(len(c.windows)):
        got = model.fields[w](0.0, x.T.contiguous()).T
        torch.testing.assert_close(got, original_rhs(c, w, x), rtol=1e-12, atol=1e-12)


def test_closed_form_trace_equals_autograd_trace():
    c = random_circuit(seed=5, n_nodes=6, n_windows=2, n_edges=30)
    model = KirchhoffNet(c, torch.float64)
    v = torch.randn(c.n_nodes, 4, dtype=torch.float64)
    for field in model.fields:
        _, trace = field.with_trace(v)
        for b in range(v.shape[1]):
            jac = torch.autograd.functional.jacobian(lambda u: field(0.0, u[:, None])[:, 0], v[:, b])
            assert float(trace[0, b]) == pytest.approx(float(torch.trace(jac)), abs=1e-12)


def test_reverse_solve_inverts_forward():
    c = random_circuit(seed=2)
    model = KirchhoffNet(c, torch.float64)
    v0 = model.initial_state(torch.randn(5, len(c.inputs), dtype=torch.float64))
    vt, _ = model.solve(v0, TIGHT)
    back, _ = model.solve(vt, TIGHT, reverse=True)
    # tolerance 1e-12 each way, amplified by the contraction/expansion of the flow (and the
    # relu kinks): measured 1.4e-8 on a second machine
    torch.testing.assert_close(back, v0, rtol=0, atol=1e-7)


def test_window_boundaries_are_recorded_and_state_carries_over():
    c = random_circuit(seed=4)
    model = KirchhoffNet(c, torch.float64)
    v0 = model.initial_state(torch.randn(2, len(c.inputs), dtype=torch.float64))
    final, marks = model.solve(v0, TIGHT, record=True)
    assert [t for t, _ in marks] == list(c.times)
    # solving window by window from the recorded states lands on the next mark
    for w in range(len(c.windows)):
        from kgen.model import odeint
        nxt = odeint(model.fields[w], marks[w][1], model._span(w, False), TIGHT)[-1]
        torch.testing.assert_close(nxt, marks[w + 1][1], rtol=0, atol=1e-10)
    torch.testing.assert_close(final, marks[-1][1])


def test_hidden_nodes_start_at_zero_and_outputs_are_selected():
    c = random_circuit(seed=8, n_nodes=6, n_inputs=2, n_outputs=3)
    model = KirchhoffNet(c, torch.float64)
    x = torch.tensor([[0.5, -0.25]], dtype=torch.float64)
    v = model.initial_state(x)
    assert v[:, 0].tolist() == [0.5, -0.25, 0.0, 0.0, 0.0, 0.0]
    assert model.readout(v).shape == (1, 3)


def test_euler_is_first_order_and_rk4_converges():
    c = random_circuit(seed=9)
    x = torch.randn(3, len(c.inputs), dtype=torch.float64)
    model = KirchhoffNet(c, torch.float64)
    ref = model(x, TIGHT)

    def err(method, n):
        return float((model(x, Solver(method=method, steps=n, dtype="float64")) - ref).abs().max())

    e1, e4 = err("euler", 40), err("euler", 160)
    assert 0.2 < e4 / e1 < 0.3  # global error O(h): 4x the steps, 1/4 the error
    assert err("rk4", 160) < 1e-7


def test_float32_agrees_with_float64_at_the_same_tolerance():
    c = random_circuit(seed=10)
    x = torch.randn(4, len(c.inputs))
    opts = dict(rtol=1e-7, atol=1e-7)
    y32 = KirchhoffNet(c, torch.float32)(x, Solver(dtype="float32", **opts))
    y64 = KirchhoffNet(c, torch.float64)(x.double(), Solver(dtype="float64", **opts))
    exact = KirchhoffNet(c, torch.float64)(x.double(), TIGHT)
    assert y32.dtype == torch.float32
    solver_err = float((y64 - exact).abs().max())
    # float32 adds rounding (~1e-7 relative per step) on top of the solver's own error
    assert float((y32.double() - exact).abs().max()) < 2 * solver_err + 1e-5


def test_trainable_module_round_trips_parameters():
    c = random_circuit(seed=12)
    model = KirchhoffNet(c, torch.float64, trainable=True)
    assert sum(p.numel() for p in model.parameters()) == sum(w.params.size for w in c.windows)
    back = model.to_circuit()
    for a, b in zip(c.windows, back.windows):
        np.testing.assert_array_equal(a.params, b.params)
    # gradients flow to the parameters through the solver
    y = model(torch.randn(2, len(c.inputs), dtype=torch.float64), Solver(rtol=1e-6, atol=1e-6, dtype="float64"))
    y.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_adjoint_gradients_match_direct_backprop():
    # smooth devices only: at a relu kink the discrete backprop and the continuous
    # adjoint differ by more than the tolerance (measured 2.4e-4 on ShiftRelu1)
    c = random_circuit(seed=13, kinds=("ShiftTanh2", "ShiftTanh1", "Conductance"))
    x = torch.randn(3, len(c.inputs), dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        model = KirchhoffNet(c, torch.float64, trainable=True)
        opts = Solver(rtol=1e-10, atol=1e-10, dtype="float64", adjoint=adjoint)
        (model(x, opts) ** 2).sum().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-7)

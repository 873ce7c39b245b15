"""The device library: canonical torch evaluation and derivatives equal the sympy expressions."""

import numpy as np
import pytest
import sympy
import torch

from kgen.devices import DEVICE_KINDS, V_DES, V_SRC, Activation, device_kind
from kgen.errors import UnsupportedError

KINDS = sorted(DEVICE_KINDS)


def _points(kind, n=400, seed=0):
    rng = np.random.RandomState(seed)
    p = rng.normal(0, 1.5, size=(kind.n_rows, n))
    vs, vd = rng.normal(0, 2, n), rng.normal(0, 2, n)
    return p, vs, vd


def _torch_current_and_slopes(kind, p, vs, vd):
    from kgen.devices import piece_functions

    rows = torch.tensor(p)
    pieces = []
    for fn in piece_functions(kind.name):
        val = fn(*rows)
        pieces.append(val if isinstance(val, torch.Tensor) else torch.full((p.shape[1],), float(val), dtype=torch.float64))
    scale, ws, wd, b = pieces
    z = ws * torch.tensor(vs) + wd * torch.tensor(vd) + b
    y, dy = kind.activation.torch_with_slope(z)
    return (scale * y).numpy(), (scale * dy * ws).numpy(), (scale * dy * wd).numpy()


@pytest.mark.parametrize("name", KINDS)
def test_torch_evaluation_equals_sympy_expression(name):
    kind = DEVICE_KINDS[name]
    p, vs, vd = _points(kind)
    f = sympy.lambdify((V_SRC, V_DES) + kind.params, kind.expression(), modules="numpy")
    expected = np.broadcast_to(f(vs, vd, *p), vs.shape)
    got, _, _ = _torch_current_and_slopes(kind, p, vs, vd)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", KINDS)
def test_closed_form_partials_equal_sympy_derivatives(name):
    kind = DEVICE_KINDS[name]
    p, vs, vd = _points(kind, seed=1)
    expr = kind.expression()
    _, dsrc, ddes = _torch_current_and_slopes(kind, p, vs, vd)
    for sym, got in ((V_SRC, dsrc), (V_DES, ddes)):
        deriv = sympy.diff(expr, sym)
        f = sympy.lambdify((V_SRC, V_DES) + kind.params, deriv, modules="numpy")
        expected = np.broadcast_to(f(vs, vd, *p), vs.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_reference_formulas_as_documented():
    # the README of the reference checkpoints: which row is slope and which is shift
    vs, vd, p0, p1, p2 = 0.7, -0.4, 0.3, 2.0, -0.5
    d = vs - vd
    cases = {
        "ShiftRelu1": p1 * max(0.0, d - p0),
        "ShiftTanh1": np.tanh(p1 * d + p0),
        "ShiftTanh2": np.tanh(p0 * vs + p1 * vd + p2),
        "Conductance": p0 * d,
        "ShiftLeakyRelu1": p1 * (d - p0 if d > p0 else 0.01 * (d - p0)),
    }
    for name, want in cases.items():
        kind = DEVICE_KINDS[name]
        subs = {V_SRC: vs, V_DES: vd, **dict(zip(kind.params, (p0, p1, p2)))}
        assert float(kind.expression().subs(subs)) == pytest.approx(want, abs=1e-14)


def test_unused_rows_are_allocated():
    assert DEVICE_KINDS["ShiftTanh1"].n_rows == 3 and DEVICE_KINDS["ShiftTanh1"].used_rows == (0, 1)
    assert DEVICE_KINDS["Conductance"].n_rows == 3 and DEVICE_KINDS["Conductance"].used_rows == (0,)
    assert DEVICE_KINDS["ShiftRelu1"].n_rows == 2


def test_generic_family_covers_every_activation():
    for act in Activation:
        camel = "".join(s.capitalize() for s in act.value.split("_"))
        assert DEVICE_KINDS[f"Diff{camel}"].activation is act
        assert DEVICE_KINDS[f"Affine{camel}"].activation is act


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(UnsupportedError, match=r"^device kind: expected one of .*, found 'Memristor'$"):
        device_kind("Memristor")


@pytest.mark.parametrize("act", list(Activation), ids=lambda a: a.value)
def test_every_form_of_an_activation_equals_its_sympy_form(act):
    """The torch (plain, in place, with slope), NumPy and interval forms stand beside the sympy one."""
    z = np.random.RandomState(3).normal(0, 2, 500)
    z[:3] = (-1.0, 0.5, 2.0)
    sym = sympy.Symbol("z", real=True)
    expr = act.sympy(sym)
    want = np.broadcast_to(sympy.lambdify(sym, expr, "numpy")(z), z.shape)
    slope = np.broadcast_to(sympy.lambdify(sym, sympy.diff(expr, sym), "numpy")(z), z.shape)
    zt = torch.tensor(z)
    y, dy = act.torch_with_slope(zt)
    for got in (act.torch(zt).numpy(), act.torch_(zt.clone()).numpy(), y.numpy(), act.numpy(z)):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    for got in (dy.numpy(), act.numpy_slope(z)):
        np.testing.assert_allclose(got, slope, rtol=1e-13, atol=1e-15)
    rad = np.abs(np.random.RandomState(4).normal(0, 0.5, z.size))
    lo, hi = act.value_range(z - rad, z + rad)
    g_lo, g_hi = act.slope_range(z, rad)
    for k in range(7):  # points inside each interval stay inside the interval forms
        inner = z - rad + rad * k / 3
        vals = np.broadcast_to(sympy.lambdify(sym, expr, "numpy")(inner), z.shape)
        assert np.all(vals >= lo - 1e-15) and np.all(vals <= hi + 1e-15)
        g = act.numpy_slope(inner)
        assert np.all(g >= g_lo - 1e-15) and np.all(g <= g_hi + 1e-15)


def test_derived_facts_of_the_library():
    assert DEVICE_KINDS["ShiftTanh1"].is_difference and not DEVICE_KINDS["ShiftTanh2"].is_difference
    assert DEVICE_KINDS["Conductance"].constant_pieces == {"scale": None, "w_src": 1.0, "w_des": -1.0, "bias": 0.0}
    assert [p.name for p in DEVICE_KINDS["ShiftRelu1"].used_params] == ["p0", "p1"]

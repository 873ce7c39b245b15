"""Each compiled Verilog-A device model's I-V curve equals the sympy expression within 1e-12.

Every module is compiled by openvaf-r and evaluated through OSDI (osdi-py)
with gmin = 0. The sweep puts the activation argument z on a grid through
its kink at z = 0 (relu, leaky relu) for random parameters and v_des.
"""

import zlib

import numpy as np
import pytest
import sympy

from kgen.codegen.tools import OPENVAF
from kgen.devices import DEVICE_KINDS, V_DES, V_SRC

reason = OPENVAF.missing()
try:
    import osdi_py  # noqa: F401
except ImportError:
    reason = reason or "osdi_py: expected the Python package, found none (install: pip install osdi-py)"
pytestmark = pytest.mark.skipif(reason is not None, reason=str(reason))


def sweep(kind: str, params: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """(v_src, v_des) points whose activation argument z runs over [-3, 3], through 0 exactly."""
    k = DEVICE_KINDS[kind]
    _, ws, wd, b = (float(piece.subs(dict(zip(k.params, params)))) if piece.free_symbols else float(piece)
                    for piece in k.pieces())
    z = np.concatenate([np.linspace(-3, 3, 121), [0.0, -1e-9, 1e-9]])
    v_des = rng.normal(size=z.size)
    if ws != 0:
        v_src = (z - wd * v_des - b) / ws
    else:
        v_src = rng.normal(size=z.size)
    return v_src, v_des


@pytest.mark.parametrize("kind", sorted(DEVICE_KINDS))
def test_compiled_module_iv_equals_sympy(kind, tmp_path):
    from kgen.codegen.ivcurve import DeviceModel, compile_device

    osdi = compile_device(kind, tmp_path)
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    k = DEVICE_KINDS[kind]
    for trial in range(3):
        p = rng.normal(0.0, 1.0, k.n_rows)
        if trial == 0:
            p[[int(s.name[1:]) for s in DEVICE_KINDS[kind].used_params]] += 0.5
        model = DeviceModel(osdi, kind, p[[int(s.name[1:]) for s in DEVICE_KINDS[kind].used_params]])
        exact = sympy.lambdify((V_SRC, V_DES), k.expression().subs(dict(zip(k.params, p))), "mpmath")
        v_src, v_des = sweep(kind, p, rng)
        got = model.currents(v_src, v_des)
        want = np.array([float(exact(a, b)) for a, b in zip(v_src, v_des)])
        assert np.max(np.abs(got - want)) <= 1e-12, (kind, trial)
        # and the sweep really crossed the kink: both signs of the argument were visited
        z = k.argument().subs(dict(zip(k.params, p)))
        zf = sympy.lambdify((V_SRC, V_DES), z, "numpy")(v_src, v_des)
        assert np.min(zf) < 0 < np.max(zf)


def test_inactive_window_contributes_nothing(tmp_path):
    """on_w0 = 0 gates the device off even where act(0) != 0 (tanh with a bias)."""
    import osdi_py as o

    from kgen.codegen.ivcurve import DeviceModel, compile_device

    osdi = compile_device("ShiftTanh2", tmp_path)
    model = DeviceModel(osdi, "ShiftTanh2", np.array([0.3, -0.2, 0.7]))
    assert model.currents(np.array([0.0]), np.array([0.0]))[0] == pytest.approx(np.tanh(0.7), abs=1e-15)
    ids = {p["name"]: i for i, p in enumerate(model.library.get_params())}
    model.instance.set_int_param(ids["on_w0"], 0)
    model.instance.process_params(300.15, 2)
    model.instance.eval(np.array([0.4, -0.1]), o.CALC_RESIST_RESIDUAL | o.ANALYSIS_DC, 0.0, 0.0)
    assert model.instance.load_residual_resist(np.zeros(2)) == [0.0, 0.0]

"""Data narrower than the first window's state: the original's `fill` rules, identical in every view.

An original-format checkpoint (test bench toyregress: 5 features; fully_connect(7): 6 nodes) runs on data of
its own width. `fill: zeros` drives nodes 1..5 and starts node 6 at 0 V; `fill: repeat` tiles the data over
all six nodes (node 6 gets feature 1). The reference is an independent solve of the original's semantics
(SciPy DOP853 on the original's padding and scatter formulation, nothing of kgen's); the float view must
match it within 1e-7, the analog views within 1e-4, and the RTL the fixed view bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from scipy.integrate import solve_ivp

from kgen.cli import main
from kgen.modelfile import load_model
from kgen.tools import missing_reason
from kgen.topology import fully_connect

T_END = [0.0, 0.5, 1.0]


def checkpoint(folder, fill, second_nodes=7, seed=0):
    """An original config.yaml + model.pth pair (ShiftTanh2, two windows)."""
    folder.mkdir(parents=True)
    config = {
        "test_bench": "toyregress",
        "network": {"adjoint": True, "initialization": "kaiming", "fill": fill, "encoder": None,
                    "projector": "last2", "residual": None, "model": {"name": "ShiftTanh2", "args": {}},
                    "net_struct": [{"name": "_fully_connect", "args": {"num_node": 7, "repeat": [1, 1]}},
                                   {"name": "_fully_connect", "args": {"num_node": second_nodes, "repeat": [1, 1]}}]},
        "simulation": {"method": "dopri5", "tol": 1e-6, "t_end": T_END, "first_step": 1e-3, "min_step": 1e-6,
                       "step_size": 1e-6},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for w, n in enumerate((7, second_nodes)):
        e = fully_connect(n, repeat=(1, 1))[0].size
        state[f"circuit.layer_list.{w}.model.param"] = 0.4 * torch.randn(3, e, generator=gen, dtype=torch.float64)
    torch.save(state, folder / "model.pth")
    return folder, state


def original_solution(state, x: np.ndarray, fill: str) -> np.ndarray:
    """The original's forward pass, written from its code: pad or tile the data to the layer's nodes, then per
    window one solve of dv/dt = scatter(i) with i = tanh(p0 v_src + p1 v_des + p2) (DOP853, 1e-11)."""
    src, des = fully_connect(7, repeat=(1, 1))
    n = 6
    out = []
    for row in x:
        if fill == "zeros":
            v = np.concatenate([row, np.zeros(n - row.size)])
        else:
            v = np.tile(row, int(np.ceil(n / row.size)))[:n]
        for w in range(2):
            p = state[f"circuit.layer_list.{w}.model.param"].numpy()

            def rhs(t, v, p=p):
                aux = np.concatenate([[0.0], v])
                i = np.tanh(aux[src] * p[0] + aux[des] * p[1] + p[2])
                res = np.zeros(n + 1)
                np.add.at(res, src, -i)
                np.add.at(res, des, i)
                return res[1:]

            v = solve_ivp(rhs, (T_END[w], T_END[w + 1]), v, method="DOP853", rtol=1e-11, atol=1e-11).y[:, -1]
        out.append(v[-2:])  # projector last2
    return np.asarray(out)


@pytest.fixture(scope="module", params=["zeros", "repeat"])
def case(request, tmp_path_factory):
    folder, state = checkpoint(tmp_path_factory.mktemp(f"fill_{request.param}") / "ck", request.param)
    x = np.random.default_rng(7).uniform(-1, 1, (3, 5))
    path = folder.parent / "x.npy"
    np.save(path, x)
    return request.param, folder, state, x, path


def run(folder, inputs, out, *flags):
    assert main(["run", str(folder), "--inputs", str(inputs), "-o", str(out), *map(str, flags)]) == 0
    return np.load(out)


def test_the_import_records_the_fill_rule(case, tmp_path):
    fill, folder, _, _, _ = case
    model = load_model(folder)
    c = model.circuit
    assert c.n_data == 5 and c.fill.value == fill
    assert c.inputs == ((1, 2, 3, 4, 5) if fill == "zeros" else (1, 2, 3, 4, 5, 6))
    assert main(["import", str(folder / "config.yaml"), str(folder / "model.pth"), "-o", str(tmp_path / "m.kgen")]) == 0
    again = load_model(tmp_path / "m.kgen").circuit
    assert (again.fill, again.n_data, again.inputs, again.digest) == (c.fill, c.n_data, c.inputs, c.digest)


def test_float_view_matches_the_original_semantics(case, tmp_path):
    fill, folder, state, x, inputs = case
    y = run(folder, inputs, tmp_path / "y.npy", "--dtype", "float64", "--rtol", "1e-11", "--atol", "1e-11")
    np.testing.assert_allclose(y, original_solution(state, x, fill), rtol=0, atol=1e-7)


@pytest.mark.parametrize("view", ["spice", "veriloga"])
def test_analog_views_match_the_original_semantics(case, tmp_path, view):
    from kgen.codegen.tools import NGSPICE, OPENVAF, VACASK

    reason = missing_reason(NGSPICE) if view == "spice" else missing_reason(VACASK, OPENVAF)
    if reason:
        pytest.skip(reason)
    fill, folder, state, x, inputs = case
    y = run(folder, inputs, tmp_path / "y.npy", "--view", view)
    np.testing.assert_allclose(y, original_solution(state, x, fill), rtol=0, atol=1e-4)


def test_rtl_equals_fixed_bit_for_bit(case, tmp_path):
    pytest.importorskip("amaranth")
    from kgen.hdl.tools import IVERILOG

    if missing_reason(IVERILOG):
        pytest.skip(missing_reason(IVERILOG))
    fill, folder, state, x, inputs = case
    fixed = run(folder, inputs, tmp_path / "f.npy", "--view", "fixed", "--steps", "12", "--trace", tmp_path / "f.npz")
    rtl = run(folder, inputs, tmp_path / "r.npy", "--view", "rtl", "--steps", "12", "--lanes", "8",
              "--trace", tmp_path / "r.npz")
    assert np.array_equal(rtl, fixed)
    from kgen.trace import read_trace

    a, b = read_trace(tmp_path / "f.npz"), read_trace(tmp_path / "r.npz")
    assert np.array_equal(a.raw, b.raw) and a.raw.shape == (25, 3, 6)
    # the loaded state is the fill rule's: node 6 starts at feature 1 under repeat, at 0 V under zeros
    want6 = x[:, 0] if fill == "repeat" else np.zeros(3)
    assert np.abs(a.v[0, :, 5] - want6).max() <= 2.0 ** -a.fmt_frac_bits[5]
    # and the fixed view itself within its derived bound of float Euler at the same steps, from the same data
    assert main(["verify", str(folder), "--view", "fixed", "--steps", "12", "--inputs", str(inputs)]) == 0


def test_repeat_with_a_node_set_that_grows_later_is_refused(tmp_path, capsys):
    folder, _ = checkpoint(tmp_path / "ck", "repeat", second_nodes=8)
    assert main(["info", str(folder)]) == 2
    assert capsys.readouterr().err == (
        "kgen: error: node set of window 1 under network.fill repeat: expected the first window's 6 nodes (the "
        "original tiles the state there), found 7 nodes\n")


def test_data_of_the_state_width_is_refused_with_the_data_width(case, tmp_path, capsys):
    _, folder, _, _, _ = case
    np.save(tmp_path / "wide.npy", np.zeros((2, 6)))
    assert main(["run", str(folder), "--inputs", str(tmp_path / "wide.npy"), "-o", str(tmp_path / "y.npy")]) == 2
    assert "expected shape (batch, 5), found shape (2, 6)" in capsys.readouterr().err

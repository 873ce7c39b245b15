"""The analog views in the simulators: float, ngspice and VACASK agree; units; chained runs; --check."""

import json

import numpy as np
import pytest

from kgen.cli import main
from kgen.codegen.analog import Units
from kgen.codegen.simulate import AnalogView, SimOptions, simulate
from kgen.codegen.tools import Tool, missing_reason
from kgen.examples import random_circuit
from kgen.modelfile import save_model
from kgen.verify import reference_boundaries

MISSING = {AnalogView.SPICE: missing_reason(Tool.NGSPICE),
           AnalogView.VERILOGA: missing_reason(Tool.VACASK) or missing_reason(Tool.OPENVAF)}
VIEWS = [pytest.param(v, marks=pytest.mark.skipif(MISSING[v] is not None, reason=str(MISSING[v])))
         for v in AnalogView]


def mixed_circuit():
    """Our own generator, fixed seed: 6 nodes, 4 windows, all seven library shapes, edges switching on and off."""
    return random_circuit(seed=5, n_nodes=6, n_windows=4, n_edges=30, n_inputs=3, n_outputs=2, t_window=0.4,
                          kinds=("ShiftTanh2", "ShiftTanh1", "ShiftRelu1", "ShiftLeakyRelu1", "ShiftRelu2",
                                 "ShiftLeakyRelu2", "Conductance"), name="mixed")


@pytest.fixture(scope="module")
def mixed():
    c = mixed_circuit()
    x = np.random.default_rng(1).standard_normal((4, 3))
    return c, x, reference_boundaries(c, x)


def test_mixed_circuit_is_what_the_test_claims(mixed):
    c, _, _ = mixed
    assert len(c.windows) == 4 and len(c.kinds) == 7
    active = np.zeros((4, c.n_edges), bool)
    for w, win in enumerate(c.windows):
        active[w, win.edges] = True
    assert (~active).any(axis=0).sum() >= 3  # some edges are gated off in some windows
    assert (c.src == 0).any() and (c.des == 0).any()  # edges to ground in both directions


@pytest.mark.parametrize("chained", [False, True], ids=["switched", "chained"])
@pytest.mark.parametrize("view", VIEWS)
def test_mixed_circuit_agrees_with_float(mixed, view, chained):
    c, x, ref = mixed
    res = simulate(c, x, SimOptions(view=view, chained=chained))
    assert res.states.shape == ref.states.shape == (5, 4, 6)
    err = np.abs(res.states - ref.states)
    assert err.max() <= 1e-4, err.max(axis=(1, 2))
    assert np.array_equal(res.states[0], ref.states[0])
    np.testing.assert_allclose(res.outputs(c), ref.states[-1][:, [4, 5]], atol=1e-4)


def test_ngspice_and_vacask_agree_with_each_other(mixed):
    if any(MISSING.values()):
        pytest.skip("; ".join(str(m) for m in MISSING.values() if m))
    c, x, _ = mixed
    a = simulate(c, x, SimOptions(view=AnalogView.SPICE))
    b = simulate(c, x, SimOptions(view=AnalogView.VERILOGA))
    assert np.abs(a.states - b.states).max() <= 1e-4


@pytest.mark.parametrize("view", VIEWS)
def test_physical_units_give_the_same_normalised_waveforms(view):
    c = random_circuit(seed=2, n_nodes=4, n_windows=2, n_edges=10)
    x = np.random.default_rng(2).standard_normal((2, 2))
    model = simulate(c, x, SimOptions(view=view, waveform=True))
    phys = simulate(c, x, SimOptions(view=view, units=Units(cap=1e-13, tau=1e-9), waveform=True))
    assert np.abs(model.states - phys.states).max() <= 1e-9
    t_model, v_model = model.waveform
    t_phys, v_phys = phys.waveform  # times come back divided by tau: model units again
    assert t_phys[-1] == pytest.approx(c.t_final, rel=1e-12)
    assert np.abs(np.interp(t_model, t_phys, v_phys[:, 3]) - v_model[:, 3]).max() <= 1e-6


@pytest.mark.parametrize("view", VIEWS)
def test_several_inputs_per_run_match_one_input_per_run(view):
    c = random_circuit(seed=4, n_nodes=4, n_windows=2, n_edges=10)
    x = np.random.default_rng(4).standard_normal((3, 2))
    together = simulate(c, x, SimOptions(view=view, copies=3, workers=1))
    apart = simulate(c, x, SimOptions(view=view, copies=1, workers=2))
    assert (together.runs, apart.runs) == (1, 3)
    assert np.abs(together.states - apart.states).max() <= 1e-6


@pytest.mark.parametrize("view,target", [(v, t) for v, t in zip(VIEWS, ("spice", "veriloga"))])
def test_check_halves_maxstep_and_reports(tmp_path, capsys, view, target):
    c = random_circuit(seed=6, n_nodes=3, n_windows=2, n_edges=8)
    save_model(c, tmp_path / "m.kgen")
    assert main(["--target", target, str(tmp_path / "m.kgen"), "-o", str(tmp_path / "out"), "--check"]) == 0
    report = json.loads((tmp_path / "out" / "check.json").read_text())
    assert report["maxstep_halved"] == report["maxstep"] / 2 == 5e-5 * c.t_final / 2
    assert 0 < report["max_change"] <= 1e-6
    out = capsys.readouterr().out
    assert f"changes the window-boundary voltages by at most {report['max_change']:.3g} V" in out
    manifest = json.loads((tmp_path / "out" / "kgen-manifest.json").read_text())
    assert "check.json" in manifest["files"]


@pytest.mark.parametrize("chained", [False, True], ids=["switched", "chained"])
@pytest.mark.parametrize("view", ["spice", "veriloga"])
def test_kgen_run_view(tmp_path, capsys, view, chained):
    if MISSING[AnalogView(view)]:
        pytest.skip(str(MISSING[AnalogView(view)]))
    c = random_circuit(seed=8, n_nodes=4, n_windows=2, n_edges=10)
    save_model(c, tmp_path / "m.kgen")
    x = np.random.default_rng(8).standard_normal((3, 2))
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(tmp_path / "m.kgen"), "--view", view, "--inputs", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "y.npy")] + (["--chained"] if chained else [])) == 0
    y = np.load(tmp_path / "y.npy")
    ref = reference_boundaries(c, x).states[-1][:, np.asarray(c.outputs) - 1]
    assert y.shape == (3, 2) and np.abs(y - ref).max() <= 1e-4
    assert f"ran random ({view} view) on 3 inputs" in capsys.readouterr().out


@pytest.mark.parametrize("view", VIEWS)
def test_saving_only_the_outputs(view):
    from kgen.codegen.analog import Save

    c = random_circuit(seed=9, n_nodes=4, n_windows=2, n_edges=10)
    x = np.random.default_rng(9).standard_normal((2, 2))
    full = simulate(c, x, SimOptions(view=view))
    outs = simulate(c, x, SimOptions(view=view, save=Save.OUTPUTS))
    hidden = [n - 1 for n in range(1, c.n_nodes + 1) if n not in c.outputs]
    assert np.isnan(outs.states[1:][:, :, hidden]).all()
    np.testing.assert_array_equal(outs.outputs(c), full.outputs(c))

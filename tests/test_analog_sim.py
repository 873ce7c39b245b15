"""The analog views in the simulators: float, ngspice and VACASK agree; units; chained runs; --check; traces."""

import json

import numpy as np
import pytest

from kgen.cli import main
from kgen.codegen.tools import NGSPICE, OPENVAF, VACASK
from kgen.examples import random_circuit
from kgen.float_view import reference_trace
from kgen.modelfile import Model, save_model
from kgen.tools import missing_reason
from kgen.trace import read_trace

MISSING = {"spice": missing_reason(NGSPICE), "veriloga": missing_reason(VACASK, OPENVAF)}
VIEWS = [pytest.param(v, marks=pytest.mark.skipif(MISSING[v] is not None, reason=str(MISSING[v])))
         for v in ("spice", "veriloga")]


def simulate(c, x, view, record=None, **options):
    """The view's trace (window boundaries unless record="steps")."""
    return Model(c).run(x, view=view, record=record, **options)


def reference(c, x):
    """The float reference at the window boundaries: dopri5, float64, rtol = atol = 1e-10."""
    return Model(c).run(x, view="float", method="dopri5", rtol=1e-10, atol=1e-10, dtype="float64")


def runs(trace) -> int:
    return trace.extra["details"]["simulator_runs"]


def at_boundaries(trace, c) -> np.ndarray:
    """The trace's states at the window boundaries t_0..t_W (W + 1, B, N)."""
    rows = [int(np.flatnonzero(trace.t == t)[-1]) for t in c.times]
    return trace.v[rows]


def mixed_circuit():
    """Our own generator, fixed seed: 6 nodes, 4 windows, all seven library shapes, edges switching on and off."""
    return random_circuit(seed=5, n_nodes=6, n_windows=4, n_edges=30, n_inputs=3, n_outputs=2, t_window=0.4,
                          kinds=("ShiftTanh2", "ShiftTanh1", "ShiftRelu1", "ShiftLeakyRelu1", "ShiftRelu2",
                                 "ShiftLeakyRelu2", "Conductance"), name="mixed")


@pytest.fixture(scope="module")
def mixed():
    c = mixed_circuit()
    x = np.random.default_rng(1).standard_normal((4, 3))
    return c, x, reference(c, x)


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
    res = simulate(c, x, view, chained=chained)
    assert res.v.shape == ref.v.shape == (5, 4, 6)
    np.testing.assert_array_equal(res.t, c.times)
    err = np.abs(res.v - ref.v)
    assert err.max() <= 1e-4, err.max(axis=(1, 2))
    assert np.array_equal(res.v[0], ref.v[0])
    np.testing.assert_allclose(Model(c).outputs(res), ref.v[-1][:, [4, 5]], atol=1e-4)
    mode = "chained per-window runs" if chained else "one switched transient"
    assert f"{'ngspice' if view == 'spice' else 'VACASK'}, {mode}, {runs(res)} simulator runs" in res.extra["label"]


def test_ngspice_and_vacask_agree_with_each_other(mixed):
    if any(MISSING.values()):
        pytest.skip("; ".join(str(m) for m in MISSING.values() if m))
    c, x, _ = mixed
    a = simulate(c, x, "spice")
    b = simulate(c, x, "veriloga")
    assert np.abs(a.v - b.v).max() <= 1e-4


@pytest.mark.parametrize("view", VIEWS)
def test_physical_units_give_the_same_normalised_waveforms(view):
    c = random_circuit(seed=2, n_nodes=4, n_windows=2, n_edges=10)
    x = np.random.default_rng(2).standard_normal((2, 2))
    model = simulate(c, x, view, record="steps")
    phys = simulate(c, x, view, record="steps", cap=1e-13, tau=1e-9)
    assert np.abs(at_boundaries(model, c) - at_boundaries(phys, c)).max() <= 1e-9
    t_model, v_model = model.t, model.v[:, 0]  # the first input's waveform
    t_phys, v_phys = phys.t, phys.v[:, 0]  # times come back divided by tau: model units again
    assert t_phys[-1] == pytest.approx(c.t_final, rel=1e-12)
    assert np.abs(np.interp(t_model, t_phys, v_phys[:, 3]) - v_model[:, 3]).max() <= 1e-6


@pytest.mark.parametrize("view", VIEWS)
def test_several_inputs_per_run_match_one_input_per_run(view):
    c = random_circuit(seed=4, n_nodes=4, n_windows=2, n_edges=10)
    x = np.random.default_rng(4).standard_normal((3, 2))
    together = simulate(c, x, view, copies=3, workers=1)
    apart = simulate(c, x, view, copies=1, workers=2)
    assert (runs(together), runs(apart)) == (1, 3)
    assert np.abs(together.v - apart.v).max() <= 1e-6


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
    if MISSING[view]:
        pytest.skip(str(MISSING[view]))
    c = random_circuit(seed=8, n_nodes=4, n_windows=2, n_edges=10)
    save_model(c, tmp_path / "m.kgen")
    x = np.random.default_rng(8).standard_normal((3, 2))
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(tmp_path / "m.kgen"), "--view", view, "--inputs", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "y.npy")] + (["--chained"] if chained else [])) == 0
    y = np.load(tmp_path / "y.npy")
    ref = Model(c).outputs(reference(c, x))
    assert y.shape == (3, 2) and np.abs(y - ref).max() <= 1e-4
    assert f"ran random ({view} view) on 3 inputs" in capsys.readouterr().out


@pytest.mark.parametrize("view", VIEWS)
def test_saving_only_the_outputs(view):
    c = random_circuit(seed=9, n_nodes=4, n_windows=2, n_edges=10)
    x = np.random.default_rng(9).standard_normal((2, 2))
    full = simulate(c, x, view)
    outs = simulate(c, x, view, save="outputs")
    hidden = [n - 1 for n in range(1, c.n_nodes + 1) if n not in c.outputs]
    assert np.isnan(outs.v[1:][:, :, hidden]).all()
    np.testing.assert_array_equal(Model(c).outputs(outs), Model(c).outputs(full))
    steps = simulate(c, x, view, record="steps", save="outputs")  # every time point: hidden nodes NaN there too
    assert steps.n_steps > outs.n_steps and np.isnan(steps.v[1:][:, :, hidden]).all()
    assert not np.isnan(steps.v[:, :, np.asarray(c.outputs) - 1]).any()


@pytest.mark.parametrize("view", VIEWS)
def test_steps_trace_of_several_runs(view):
    """Inputs run in several netlists step on different grids: the trace takes their union, each run
    interpolated onto it, the window boundaries exact; it agrees with the float reference at every time."""
    c = random_circuit(seed=4, n_nodes=4, n_windows=2, n_edges=10)
    x = np.random.default_rng(4).standard_normal((3, 2))
    model = Model(c)
    apart = simulate(c, x, view, record="steps", copies=1, workers=2)
    one = simulate(c, x[:1], view, record="steps")
    assert runs(apart) == 3 and apart.n_steps >= one.n_steps > 100
    assert np.all(np.diff(apart.t) > 0) and set(c.times) <= set(apart.t.tolist())
    assert list(apart.window[np.isin(apart.t, c.times)]) == [0, 0, 1]
    np.testing.assert_array_equal(at_boundaries(apart, c), simulate(c, x, view, copies=1, workers=2).v)
    ref = reference_trace(model, x, apart)
    np.testing.assert_array_equal(ref.t, apart.t)
    assert np.abs(ref.v - apart.v).max() <= 1e-4
    # input 0 alone ran on its own grid: the union holds it, its values there are the simulator's
    own = np.isin(apart.t, one.t)
    assert own.sum() == one.n_steps
    np.testing.assert_allclose(apart.v[own, 0], one.v[:, 0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("view", VIEWS)
def test_kgen_run_trace_and_diff_with_the_float_view(tmp_path, capsys, view):
    """`kgen run --view V --trace T.npz` writes the simulator's time points; `kgen diff` holds them to a
    float-view trace (tight dopri5, 100 points per window) by time within 1e-4."""
    c = random_circuit(seed=8, n_nodes=4, n_windows=2, n_edges=10)
    save_model(c, tmp_path / "m.kgen")
    np.save(tmp_path / "x.npy", np.random.default_rng(8).standard_normal((3, 2)))
    common = ["run", str(tmp_path / "m.kgen"), "--inputs", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]
    assert main(common + ["--view", view, "--trace", str(tmp_path / "T.npz")]) == 0
    assert main(common + ["--view", "float", "--method", "dopri5", "--rtol", "1e-10", "--atol", "1e-10",
                          "--dtype", "float64", "--trace", str(tmp_path / "F.npz")]) == 0
    analog, flt = read_trace(tmp_path / "T.npz"), read_trace(tmp_path / "F.npz")
    assert analog.source == view and not analog.fixed_step and analog.digest == c.digest
    assert analog.v.shape[1:] == (3, 4) and analog.n_steps > 1000  # maxstep 5e-5 of the span
    assert flt.n_steps == 2 * 100 + 1
    capsys.readouterr()
    assert main(["diff", str(tmp_path / "F.npz"), str(tmp_path / "T.npz"), "--atol", "1e-4"]) == 0
    assert capsys.readouterr().out.startswith("traces agree: 201 steps compared (time, atol 0.0001)")


@pytest.mark.parametrize("view", VIEWS)
def test_steps_trace_is_thinned_to_its_budget(monkeypatch, view):
    """A long run of many inputs keeps at most TRACE_BUDGET values: the time points are thinned evenly,
    the start and every window boundary stay, exact."""
    import kgen.codegen.runner as runner

    c = random_circuit(seed=4, n_nodes=4, n_windows=2, n_edges=10)
    x = np.random.default_rng(4).standard_normal((3, 2))
    full = simulate(c, x, view, record="steps", copies=1, workers=2)
    monkeypatch.setattr(runner, "TRACE_BUDGET", 3 * 4 * 50)
    thin = simulate(c, x, view, record="steps", copies=1, workers=2)
    assert 20 <= thin.n_steps <= 50 < full.n_steps
    assert set(thin.t.tolist()) <= set(full.t.tolist()) and np.all(np.diff(thin.t) > 0)
    np.testing.assert_array_equal(at_boundaries(thin, c), at_boundaries(full, c))


def growing_checkpoint(folder):
    """An original checkpoint whose node set grows: window 0 on nodes 1-2, window 1 adds node 3 (at 0 V)."""
    import torch
    import yaml

    from kgen.topology import fully_connect

    folder.mkdir(parents=True)
    cfg = {"test_bench": "twomoon", "network": {"adjoint": True, "initialization": "kaiming",
                                                "model": {"name": "ShiftTanh2", "args": {}},
                                                "net_struct": [{"name": "_fully_connect",
                                                                "args": {"num_node": n, "repeat": [2, 2]}}
                                                               for n in (3, 4)]},
           "simulation": {"method": "dopri5", "tol": 1e-4, "t_end": [0.0, 0.5, 1.0], "first_step": 1e-3,
                          "min_step": 1e-6, "step_size": 1e-6}}
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    gen = torch.Generator().manual_seed(0)
    torch.save({f"circuit.layer_list.{w}.model.param":
                0.5 * torch.randn(3, fully_connect(n, repeat=(2, 2))[0].size, generator=gen)
                for w, n in enumerate((3, 4))}, folder / "model.pth")
    return folder


def test_a_node_set_that_grows_simulates_in_the_default_ngspice_netlist(tmp_path, capsys):
    """Edges switching on at a node left at rest ramp in over delta: without it ngspice stopped with
    "Timestep too small" exactly at the boundary where node 3 joins; the chained runs and VACASK did not."""
    for view in MISSING:
        if MISSING[view]:
            pytest.skip(str(MISSING[view]))
    ck = growing_checkpoint(tmp_path / "ck")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((2, 2)))
    outputs = {}
    for name, flags in (("switched", []), ("chained", ["--chained"])):
        assert main(["run", str(ck), "--view", "spice", "--inputs", str(tmp_path / "x.npy"),
                     "-o", str(tmp_path / f"{name}.npy"), *flags]) == 0, capsys.readouterr().err
        outputs[name] = np.load(tmp_path / f"{name}.npy")
    assert main(["run", str(ck), "--view", "veriloga", "--inputs", str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "va.npy")]) == 0
    assert np.abs(outputs["switched"] - outputs["chained"]).max() <= 1e-7
    assert np.abs(outputs["switched"] - np.load(tmp_path / "va.npy")).max() <= 1e-7
    capsys.readouterr()
    assert main(["verify", str(ck), "--view", "spice", "--inputs", str(tmp_path / "x.npy")]) == 0
    assert "passed" in capsys.readouterr().out
    assert main(["--target", "spice", str(ck), "-o", str(tmp_path / "net")]) == 0
    text = (tmp_path / "net" / "netlist.cir").read_text()
    assert "min(1.0, (time - 0.500000001)/1e-09)*(" in text  # the ramp-in of node 3's edges

"""Mismatch Monte Carlo: the one mismatch model, `kgen verify --mismatch`, the executor (local pool and
Dask), the per-trial cache (a killed run re-run completes only the missing trials), failed trials."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kgen.cli import main
from kgen.codegen.tools import NGSPICE, OPENVAF, VACASK
from kgen.devices import DEVICE_KINDS
from kgen.errors import InputError
from kgen.examples import demo_circuit
from kgen.mismatch import Mismatch
from kgen.modelfile import save_model
from kgen.tools import missing_reason

REPO = Path(__file__).resolve().parents[1]
needs_ngspice = pytest.mark.skipif(bool(missing_reason(NGSPICE)), reason=str(missing_reason(NGSPICE)))
needs_vacask = pytest.mark.skipif(bool(missing_reason(VACASK, OPENVAF)), reason=str(missing_reason(VACASK, OPENVAF)))


@pytest.fixture()
def demo(tmp_path):
    path = tmp_path / "demo.kgen"
    save_model(demo_circuit(), path)
    return path


def _identity(report: dict) -> dict:
    """A Monte Carlo report without how it ran (executor, cache hits, seconds)."""
    return {k: v for k, v in report.items() if k != "run"}


# -- the mismatch model ---------------------------------------------------------------------------------------
def test_trial_k_is_one_perturbation_and_follows_the_formula():
    c = demo_circuit()
    m = Mismatch(0.05, 0.02, p_ref=0.01, seed=7)
    a, b = m.apply(c, 3), m.apply(c, 3)
    assert a.digest == b.digest != c.digest != m.apply(c, 4).digest
    assert Mismatch(0.05, 0.02, 0.01, 8).apply(c, 3).digest != a.digest  # the seed is part of the draw
    # the normalised perturbation of every used scalar is a standard normal draw; unused rows stay as they were
    z, fixed = [], 0
    for w0, w1 in zip(c.windows, a.windows):
        for k, name in enumerate(c.kinds):
            cols = np.flatnonzero(c.edge_kind[w0.edges] == k)
            used = list(DEVICE_KINDS[name].used_rows)
            unused = [r for r in range(c.param_rows) if r not in used]
            p, q = w0.params[np.ix_(used, cols)], w1.params[np.ix_(used, cols)]
            z.append(((q - p) / (0.05 * np.maximum(np.abs(p), 0.01))).ravel())
            assert np.array_equal(w0.params[np.ix_(unused, cols)], w1.params[np.ix_(unused, cols)])
            fixed += len(unused) * cols.size
    z = np.concatenate(z)
    assert fixed > 0 and z.size > 50
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.std() - 1) < 0.25
    zc = (a.capacitance / c.capacitance - 1) / 0.02
    assert np.all(zc != 0) and np.all(np.abs(zc) < 6)
    # no spread: the nominal circuit itself
    assert Mismatch(0.0).apply(c, 5).digest == c.digest


@pytest.mark.parametrize("kwargs, message", [
    ({"sigma": -0.1}, "--mismatch: expected a finite number >= 0, found -0.1"),
    ({"sigma": float("nan")}, "--mismatch: expected a finite number >= 0, found nan"),
    ({"sigma": 0.1, "cap_tolerance": 0.3}, "--cap-tolerance: expected a relative spread below 0.2, found 0.3"),
    ({"sigma": 0.1, "p_ref": -1.0}, "--p-ref: expected a finite number >= 0, found -1.0"),
    ({"sigma": 0.1, "seed": -2}, "--seed: expected an integer >= 0, found -2"),
])
def test_bad_mismatch(kwargs, message):
    with pytest.raises(InputError) as e:
        Mismatch(**kwargs)
    assert str(e.value) == message


# -- the command -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (["--mismatch", "-0.05", "--trials", "2"], "--mismatch: expected a finite number >= 0, found -0.05"),
    (["--mismatch", "0.05", "--trials", "0"], "--trials: expected a positive count, found 0"),
    (["--mismatch", "0.05"], "--mismatch: expected --trials N beside it, found none"),
    (["--trials", "4"], "--trials: expected --mismatch SIGMA beside it (a Monte Carlo run), found none"),
    (["--mismatch", "0.05", "--trials", "2", "--scheduler", "cluster.json"],
     "--scheduler: expected tcp://HOST:PORT or a Dask scheduler file, found 'cluster.json'"),
    (["--mismatch", "0.05", "--trials", "2", "--labels", "y.npy"],
     "--labels: expected --inputs X.npy beside it (the labels of those inputs), found --samples"),
])
def test_bad_monte_carlo_arguments(demo, capsys, args, message):
    assert main(["verify", str(demo), "--view", "spice", *args]) == 2
    assert capsys.readouterr().err.strip() == f"kgen: error: {message}"


def test_unreachable_scheduler_is_one_line_within_ten_seconds(demo, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    rc = main(["verify", str(demo), "--view", "spice", "--mismatch", "0.05", "--trials", "2", "--samples", "1",
               "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert rc == 2 and time.monotonic() - start < 10
    assert capsys.readouterr().err.strip() == (f"kgen: error: --scheduler tcp://127.0.0.1:{port}: expected a "
                                               "reachable Dask scheduler, found no answer within 5 s")


@needs_vacask
@needs_ngspice
@pytest.mark.slow
@pytest.mark.parametrize("view", ["spice", "veriloga"])
def test_every_trial_matches_the_float_model_perturbed_alike(demo, tmp_path, monkeypatch, capsys, view):
    monkeypatch.setenv("KGEN_CACHE_DIR", str(tmp_path / "cache"))
    plot = tmp_path / "mc.png"
    assert main(["verify", str(demo), "--view", view, "--mismatch", "0.05", "--cap-tolerance", "0.02",
                 "--trials", "2", "--samples", "2", "--plot", str(plot), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] and report["trials"] == 2 and report["passed_trials"] == 2 and not report["failures"]
    assert report["run"]["ran"] == 2 and report["run"]["cached"] == 0
    assert [t["trial"] for t in report["per_trial"]] == [0, 1]
    c = demo_circuit()
    digests = [Mismatch(0.05, 0.02).apply(c, k).digest for k in range(2)]
    assert [t["digest"] for t in report["per_trial"]] == digests
    for t in report["per_trial"]:
        # the fidelity contract per trial, and the simulator really ran the perturbed circuit: its outputs
        # moved from the nominal ones by far more than they differ from the perturbed float model
        assert 0 < t["max_abs_error"] <= 1e-4
        assert t["max_deviation"] > 100 * t["max_abs_error"]
    assert report["metric"] == "displacement" and report["nominal_metric"] == 0.0
    assert report["metric_spread"]["min"] > 0
    assert set(report["deviation"]) == {"5", "6"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_vacask
@pytest.mark.slow
def test_dask_cluster_gives_the_local_pools_results_byte_for_byte(demo, tmp_path, monkeypatch, capsys):
    from distributed import LocalCluster

    args = ["verify", str(demo), "--view", "veriloga", "--mismatch", "0.1", "--trials", "3", "--samples", "2",
            "--json"]
    monkeypatch.setenv("KGEN_CACHE_DIR", str(tmp_path / "local"))
    assert main(args + ["--jobs", "2"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert local["run"]["executor"] == "local pool of 2 processes"
    monkeypatch.setenv("KGEN_CACHE_DIR", str(tmp_path / "dask"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert main(args + ["--scheduler", cluster.scheduler_address]) == 0
    on_dask = json.loads(capsys.readouterr().out)
    assert on_dask["run"]["executor"].startswith("Dask scheduler tcp://") and on_dask["run"]["ran"] == 3
    assert json.dumps(_identity(on_dask), sort_keys=True) == json.dumps(_identity(local), sort_keys=True)
    # the caches hold the same trial files, byte for byte
    files = sorted((tmp_path / "local" / "montecarlo").iterdir())
    assert [f.name for f in files] == sorted(f.name for f in (tmp_path / "dask" / "montecarlo").iterdir())
    assert all(f.read_bytes() == (tmp_path / "dask" / "montecarlo" / f.name).read_bytes() for f in files)


@needs_ngspice
@pytest.mark.slow
def test_killed_run_rerun_completes_only_the_missing_trials(demo, tmp_path):
    env = dict(os.environ, KGEN_CACHE_DIR=str(tmp_path / "cache"), KGEN_PROGRESS="0")
    args = [sys.executable, "-m", "kgen", "verify", str(demo), "--view", "spice", "--mismatch", "0.05",
            "--trials", "4", "--samples", "1", "--jobs", "1", "--json"]
    cache = tmp_path / "cache" / "montecarlo"
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(list(cache.glob("*.npz"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    finished = len(list(cache.glob("*.npz")))
    assert 2 <= finished < 4
    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["run"]["cached"] == finished and report["run"]["ran"] == 4 - finished
    whole = subprocess.run(args, env=dict(env, KGEN_CACHE_DIR=str(tmp_path / "fresh")), capture_output=True,
                           text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr
    assert json.dumps(_identity(report), sort_keys=True) == json.dumps(_identity(json.loads(whole.stdout)),
                                                                         sort_keys=True)


@needs_ngspice
@pytest.mark.slow
def test_a_failed_trial_is_named_with_its_log_and_the_others_are_kept(demo, tmp_path, monkeypatch, capsys):
    import shutil

    bad = Mismatch(0.05).apply(demo_circuit(), 1).digest
    wrapper = tmp_path / "ngspice"
    wrapper.write_text("#!/bin/sh\n"
                       f"for a in \"$@\"; do [ -f \"$a\" ] && grep -q {bad} \"$a\" && "
                       "{ echo 'Error: simulated failure' >&2; exit 1; }; done\n"
                       f"exec {shutil.which('ngspice') or NGSPICE.find()} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("KGEN_NGSPICE", str(wrapper))
    monkeypatch.setenv("KGEN_CACHE_DIR", str(tmp_path / "cache"))
    args = ["verify", str(demo), "--view", "spice", "--mismatch", "0.05", "--trials", "3", "--samples", "1"]
    assert main(args + ["--json"]) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert [t["trial"] for t in report["per_trial"]] == [0, 2] and report["passed_trials"] == 2
    assert [f["trial"] for f in report["failures"]] == [1] and "log: " in report["failures"][0]["error"]
    assert err.startswith("kgen: error: monte carlo (spice): expected 3 trials run, found 1 failed trial, "
                          "first trial 1: ngspice failed") and err.count("\n") == 1
    log = Path(err.split("log: ")[1].split(")")[0].strip())
    assert log.is_file()
    # the finished trials were kept: running again (the simulator mended) runs only the failed one
    monkeypatch.delenv("KGEN_NGSPICE")
    assert main(args + ["--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["run"]["cached"] == 2 and again["run"]["ran"] == 1 and again["passed"]


# -- forward time and energy ----------------------------------------------------------------------------------
def _rc_discharge(g: float = 2.0):
    """One conductance from node 1 to ground: v = v0 exp(-g t), so the charge it moves by T is v0 (1 - e^{-gT})."""
    from kgen.circuit import Circuit, Window

    return Circuit(n_nodes=1, capacitance=[1.0], src=[1], des=[0], kinds=("Conductance",), edge_kind=[0],
                   windows=(Window(0.0, 0.5, [0], [[g], [0.0], [0.0]]), Window(0.5, 1.5, [0], [[g], [0.0], [0.0]])),
                   inputs=(1,), outputs=(1,), name="rc")


def test_charge_of_a_discharging_capacitor_is_the_closed_form():
    from kgen.energy import energy_of, float_charge
    from kgen.modelfile import Model

    model = Model(_rc_discharge())
    x = np.array([[1.0], [-3.0]])
    exact = np.abs(x[:, 0]) * (1 - np.exp(-2.0 * 1.5))
    q = float_charge(model, x)
    assert np.max(np.abs(q - exact) / exact) < 1e-6
    e = energy_of(model, model.run(x, view="float", record="steps"), 0.9, cap=1e-13, tau=1e-9, reference_charge=q)
    assert e.forward_time == pytest.approx(1.5e-9)
    assert np.allclose(e.charge, exact * 1e-13, rtol=1e-4) and np.allclose(e.energy, 0.9 * exact * 1e-13, rtol=1e-4)
    assert e.max_relative_difference < 1e-4


@needs_ngspice
@needs_vacask
@pytest.mark.slow
@pytest.mark.parametrize("view, units", [("spice", []), ("veriloga", ["--cap", "1e-13", "--tau", "1e-9"])],
                         ids=["spice-model-units", "veriloga-physical"])
def test_simulated_energy_agrees_with_the_float_model(demo, capsys, view, units):
    assert main(["verify", str(demo), "--view", view, "--samples", "2", "--vdd", "0.9", "--json", *units]) == 0
    e = json.loads(capsys.readouterr().out)["energy"]
    cap, tau = (1e-13, 1e-9) if units else (1.0, 1.0)
    assert e["cap"] == cap and e["tau"] == tau and e["forward_time"] == pytest.approx(1.5 * tau)
    assert e["max_relative_difference"] <= 0.01
    assert e["energy"] == pytest.approx([0.9 * q for q in e["charge"]])
    assert min(e["charge"]) > cap  # the demo's devices move several units of charge


@pytest.mark.parametrize("args, message", [
    (["--vdd", "0"], "--vdd: expected a finite positive supply voltage, found 0.0"),
    (["--vdd", "1", "--save", "outputs"], "--vdd: expected every node's voltage in the waveform (--save all), "
                                          "found --save outputs"),
])
@needs_ngspice
def test_bad_energy_requests(demo, tmp_path, capsys, args, message):
    np.save(tmp_path / "x.npy", np.zeros((1, 3)))
    assert main(["run", str(demo), "--view", "spice", "--inputs", str(tmp_path / "x.npy"), "-o",
                 str(tmp_path / "y.npy"), *args]) == 2
    assert capsys.readouterr().err.strip() == f"kgen: error: {message}"
    assert not (tmp_path / "y.npy").exists()


# -- kgen eval --mismatch: the float model's figure ------------------------------------------------------------
@pytest.mark.slow
def test_eval_under_mismatch_moves_the_metric_from_the_nominal_one(reference, capsys):
    model = str(reference / "twomoon")
    assert main(["eval", model, "--task", "twomoon", "--samples", "200", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["eval", model, "--task", "twomoon", "--samples", "200", "--mismatch", "0.05", "--trials", "2",
                 "--json"]) == 0
    spread = json.loads(capsys.readouterr().out)
    assert spread["nominal"] == plain["value"] and spread["metric"] == "heldout_nll" and spread["trials"] == 2
    assert len(spread["values"]) == 2 and all(v != spread["nominal"] for v in spread["values"])
    assert spread["worst"] == max(spread["values"]) and spread["mismatch"]["sigma"] == 0.05


@pytest.mark.parametrize("args, message", [
    (["--trials", "3"], "--trials: expected --mismatch SIGMA beside it (a Monte Carlo run), found none"),
    (["--mismatch", "0.1"], "--mismatch: expected --trials N beside it, found none"),
    (["--mismatch", "-1", "--trials", "2"], "--mismatch: expected a finite number >= 0, found -1.0"),
])
def test_bad_eval_mismatch(demo, capsys, args, message):
    assert main(["eval", str(demo), "--task", "twomoon", *args]) == 2
    assert capsys.readouterr().err.strip() == f"kgen: error: {message}"

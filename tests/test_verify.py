"""`kgen verify MODEL --view V`: report, JSON, plot, exit status; the verifier registry."""

import json

import numpy as np
import pytest

from kgen.cli import main
from kgen.codegen.tools import Tool, missing_reason
from kgen.examples import demo_circuit, random_circuit
from kgen.modelfile import save_model
from kgen.verify import Boundaries, get_verifier, register_verifier, verifier_names, verify

needs_sims = pytest.mark.skipif(bool(missing_reason(Tool.NGSPICE) or missing_reason(Tool.VACASK)),
                                reason=str(missing_reason(Tool.NGSPICE) or missing_reason(Tool.VACASK)))


@pytest.fixture()
def demo(tmp_path):
    path = tmp_path / "demo.kgen"
    save_model(demo_circuit(), path)
    return path


def test_analog_verifiers_are_registered():
    assert {"spice", "veriloga"} <= set(verifier_names())


@needs_sims
@pytest.mark.parametrize("view", ["spice", "veriloga"])
def test_verify_json(demo, capsys, view):
    assert main(["verify", str(demo), "--view", view, "--samples", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inputs"] == 4 and report["view"] == view and report["passed"] is True
    assert report["boundaries"] == [0.5, 1.0, 1.5]
    assert 0 < report["max_abs_error"] <= 1e-4 and report["mean_abs_error"] <= report["max_abs_error"]
    assert report["argmax_agreement"] is None  # not a classifier


@needs_sims
def test_verify_text_plot_and_inputs_file(demo, tmp_path, capsys):
    x = np.random.default_rng(3).standard_normal((3, 3))
    np.save(tmp_path / "x.npy", x)
    plot = tmp_path / "overlay.png"
    assert main(["verify", str(demo), "--view", "veriloga", "--inputs", str(tmp_path / "x.npy"), "--chained",
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "demo: veriloga vs float reference over 3 inputs at 3 window boundaries" in out
    assert "VACASK, chained per-window runs" in out and "max |error|" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_sims
def test_verify_fails_beyond_the_tolerance(demo, capsys):
    rc = main(["verify", str(demo), "--view", "spice", "--samples", "2", "--tol", "1e-12"])
    out, err = capsys.readouterr()
    assert rc == 2 and "max |error|" in out
    line = err.strip()
    assert line.startswith("kgen: error: spice vs float reference: expected max |error| <= 1e-12, found ")


def test_verify_bad_arguments(demo, capsys):
    for argv, message in [
        (["--view", "nope"], "--view: expected one of "),
        (["--view", "spice", "--samples", "0"], "--samples: expected a positive count, found 0"),
        (["--view", "spice", "--tol", "-1"], "--tol: expected a finite positive number, found -1.0"),
        (["--view", "spice", "--plot", "x.gif"], "--plot: expected a .png, .pdf or .svg file name, found 'x.gif'"),
    ]:
        rc = main(["verify", str(demo), *argv])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("kgen: error: " + message), err


def test_a_later_view_registers_its_verifier(monkeypatch):
    """The registry is open: a view (here the float model at loose tolerance) plugs in by registering."""
    import kgen.verify
    from kgen.views import RunOptions, get_view

    verifier_names()  # load the plugins, then work on a copy of the registry
    monkeypatch.setattr(kgen.verify, "_VERIFIERS", dict(kgen.verify._VERIFIERS))

    @register_verifier("float-loose")
    def loose(circuit, inputs, opts):
        from kgen.verify import reference_boundaries

        ref = reference_boundaries(circuit, inputs)
        y = get_view("float")(circuit, inputs, RunOptions(rtol=1e-3, atol=1e-3, dtype="float64"))
        states = ref.states.copy()
        states[-1][:, np.asarray(circuit.outputs) - 1] = y
        return Boundaries(ref.times, states, None, "float, rtol 1e-3")

    assert get_verifier("float-loose") is loose
    c = random_circuit(seed=1)
    report, _, _ = verify(c, "float-loose", np.random.default_rng(0).standard_normal((2, 2)), tolerance=1e-1)
    assert report.passed and report.max_abs_error > 0

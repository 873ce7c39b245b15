"""`kgen verify MODEL --view V`: report, JSON, plot, exit status; a view from the registry is verified."""

import json

import numpy as np
import pytest

from kgen.cli import main
from kgen.codegen.tools import NGSPICE, VACASK
from kgen.examples import demo_circuit, random_circuit
from kgen.modelfile import save_model
from kgen.tools import missing_reason

needs_sims = pytest.mark.skipif(bool(missing_reason(NGSPICE, VACASK)), reason=str(missing_reason(NGSPICE, VACASK)))


@pytest.fixture()
def demo(tmp_path):
    path = tmp_path / "demo.kgen"
    save_model(demo_circuit(), path)
    return path


def test_analog_views_are_registered():
    from kgen.codegen.views import SPICE_VIEW, VERILOGA_VIEW
    from kgen.plugins import VIEWS

    assert {"spice", "veriloga"} <= set(VIEWS.names())
    assert VIEWS.get("spice") is SPICE_VIEW and VIEWS.get("veriloga") is VERILOGA_VIEW


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
    assert rc == 1 and "max |error|" in out  # a failed check exits 1, bad input 2
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


def test_a_view_from_the_registry_is_verified(monkeypatch, tmp_path, capsys):
    """The registry is open: a view (here the float model at loose tolerance) that the view registry
    returns is run and held to the float reference by `kgen verify`, with its own label and details."""
    from dataclasses import dataclass

    from kgen.float_view import VIEW as FLOAT
    from kgen.modelfile import Model
    from kgen.options import option
    from kgen.plugins import VIEWS, _registries
    from kgen.verify import verify
    from kgen.views import View

    @dataclass(frozen=True)
    class LooseOptions:
        rtol: float = option(1e-3, help="relative and absolute tolerance")

    class Loose(View):
        name = "float-loose"
        description = "the float model at a loose tolerance"
        Options = LooseOptions

        def run(self, model, x, options, record):
            trace = FLOAT.run(model, x, FLOAT.options(rtol=options.rtol, atol=options.rtol, dtype="float64"),
                              record)
            trace.extra.update(label=f"float, rtol {options.rtol:g}", details={"solves": 2})
            return trace

    loose = Loose()
    monkeypatch.setitem(_registries()[0]._loaded, "float-loose", loose)  # as if a package declared it
    assert VIEWS.get("float-loose") is loose
    c = random_circuit(seed=1)
    save_model(c, tmp_path / "m.kgen")
    assert main(["verify", str(tmp_path / "m.kgen"), "--view", "float-loose", "--samples", "2",
                 "--tol", "1e-1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] and report["max_abs_error"] > 0
    assert report["simulator"] == "float, rtol 0.001" and report["details"] == {"solves": 2}
    x = np.random.default_rng(0).standard_normal((2, 2))
    res = verify(Model(c), VIEWS.get("float-loose"), x, loose.options(), tolerance=1e-1)
    assert res.report.passed and res.report.max_abs_error > 0

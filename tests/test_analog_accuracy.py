"""`--accuracy ERR`: transient settings derived from an output error target, and `--check` confirming them."""

import json
import math

import numpy as np
import pytest

from kgen.cli import main
from kgen.codegen.analog import SPICE_ACCURACY, VERILOGA_ACCURACY, parse_accuracy
from kgen.codegen.tools import NGSPICE, OPENVAF, VACASK
from kgen.errors import InputError
from kgen.examples import demo_circuit
from kgen.modelfile import save_model
from kgen.tools import missing_reason

needs_vacask = pytest.mark.skipif(bool(missing_reason(VACASK, OPENVAF)), reason=str(missing_reason(VACASK, OPENVAF)))


@pytest.mark.parametrize("preset", [VERILOGA_ACCURACY, SPICE_ACCURACY], ids=["vacask", "ngspice"])
def test_settings_scale_from_the_presets_measured_error(preset):
    assert preset.for_error(None) is preset
    same = preset.for_error(preset.holds)
    assert same.maxstep_fraction == preset.maxstep_fraction and same.reltol == preset.reltol
    looser = preset.for_error(preset.holds * 16)  # trap: error ~ maxstep^2, so 16x the error is 4x the step
    assert looser.maxstep_fraction == pytest.approx(4 * preset.maxstep_fraction)
    assert looser.reltol == pytest.approx(16 * preset.reltol)
    assert looser.method == preset.method and looser.vntol == preset.vntol
    huge, tiny = preset.for_error(1e6), preset.for_error(1e-30)
    assert huge.maxstep_fraction == 1e-2 and huge.reltol == 1e-5  # the ceilings
    assert tiny.maxstep_fraction == preset.maxstep_fraction / 16 and tiny.reltol == preset.reltol / 100


@pytest.mark.parametrize("text", ["-1", "0", "nan", "loose", "inf"])
def test_bad_accuracy(text):
    with pytest.raises(InputError) as e:
        parse_accuracy(text)
    assert str(e.value) == f"--accuracy: expected an absolute error at the outputs such as 1e-3, or preset, found {text!r}"
    assert parse_accuracy("preset") is None and parse_accuracy("1e-3") == 1e-3


def test_the_export_prints_the_derived_settings(tmp_path):
    model = tmp_path / "demo.kgen"
    save_model(demo_circuit(), model)
    assert main(["--target", "spice", str(model), "-o", str(tmp_path / "a"), "--accuracy", "5e-3"]) == 0
    text = (tmp_path / "a" / "netlist.cir").read_text()
    derived = SPICE_ACCURACY.for_error(5e-3)
    span = 1.5
    assert f"reltol={derived.reltol!r}" in text
    assert f".tran {derived.maxstep_fraction * span!r} 1.5 0 {derived.maxstep_fraction * span!r} uic" in text
    manifest = json.loads((tmp_path / "a" / "kgen-manifest.json").read_text())
    assert manifest["accuracy"] == 5e-3
    assert main(["--target", "spice", str(model), "-o", str(tmp_path / "b")]) == 0
    assert "accuracy" not in json.loads((tmp_path / "b" / "kgen-manifest.json").read_text())


@needs_vacask
@pytest.mark.slow
def test_a_looser_target_takes_fewer_steps_meets_it_and_check_confirms(tmp_path, capsys):
    model = tmp_path / "demo.kgen"
    save_model(demo_circuit(), model)
    x = np.random.default_rng(1).standard_normal((2, 3))
    np.save(tmp_path / "x.npy", x)
    runs = {}
    for label, extra in (("preset", []), ("loose", ["--accuracy", "1e-3", "--check"])):
        assert main(["verify", str(model), "--view", "veriloga", "--inputs", str(tmp_path / "x.npy"), "--json",
                     "--trace", str(tmp_path / f"{label}.npz"), *extra]) == 0
        runs[label] = json.loads(capsys.readouterr().out)
    loose, preset = runs["loose"], runs["preset"]
    assert loose["max_abs_error"] <= 1e-3 and loose["passed"] and loose["tolerance"] == 1e-3  # held to its target
    assert preset["tolerance"] == 1e-4
    d = loose["details"]
    assert d["maxstep"] == pytest.approx(VERILOGA_ACCURACY.for_error(1e-3).maxstep_fraction * 1.5)
    assert d["maxstep"] > 3 * preset["details"]["maxstep"]
    assert d["reltol"] == pytest.approx(VERILOGA_ACCURACY.for_error(1e-3).reltol)
    assert d["reltol"] > 10 * preset["details"]["reltol"]
    assert 0 < d["change_at_half_maxstep"] <= 1e-3
    # VACASK's own account of where the time went (print stats), summed over its runs
    p, q = d["profile"], preset["details"]["profile"]
    assert p["accepted_timepoints"] * 3 < q["accepted_timepoints"] and p["device_evaluation_s"] > 0
    assert {"newton_iterations", "lu_refactorization_s", "lu_solve_s", "analysis_s"} <= set(p)
    from kgen.trace import read_trace

    assert read_trace(tmp_path / "loose.npz").n_steps < read_trace(tmp_path / "preset.npz").n_steps / 3
    assert math.isfinite(preset["max_abs_error"])

"""`kgen quantize` end to end on the bundled example, and its one-line errors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from kgen.cli import main
from kgen.quant import MEMBER, balanced_lanes, parse_quant_json
from kgen.emulation.interp import Emulator
from kgen.emulation.lower import lower
from kgen.examples import demo_circuit, random_circuit
from kgen.modelfile import circuit_digest, load_model, read_members, save_model

FAST = ["--samples", "200", "--ref-samples", "64", "--eval-samples", "64", "--table-samples", "16",
        "--dt-candidates", "0.1,0.05,0.02"]


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    d = tmp_path_factory.mktemp("q")
    model = d / "demo.kgen"
    save_model(demo_circuit(), model)
    out = d / "demo_q.kgen"
    assert main(["quantize", str(model), "-o", str(out), *FAST]) == 0
    return d, model, out


def test_quantize_stores_the_choices_and_writes_the_report(quantized, capsys):
    d, model, out = quantized
    quantized_model = load_model(out)
    circuit = quantized_model.circuit
    assert circuit_digest(circuit) == circuit_digest(load_model(model).circuit)
    cfg, hdl = quantized_model.quant, quantized_model.hdl
    assert cfg is not None and len(cfg.steps) == 3 and cfg.read_feedback
    program = lower(circuit, cfg)
    assert hdl.units == 1 and hdl.lanes == balanced_lanes([w.n_edges for w in program.windows], circuit.n_nodes)
    doc = json.loads(read_members(out)[MEMBER])
    rep = doc["report"]
    assert rep["error_vs_float_euler"]["max"] <= 1e-2 and rep["bound"]["measured_within"] is True
    assert rep["saturations"] == 0 and rep["dt"] in (0.1, 0.05, 0.02)
    assert str(cfg.read) == rep["read"] and cfg.read.int_bits >= 2  # |v| reaches ~3 on this example
    folder = d / "demo_q.kgen.report"
    for name in ("report.md", "report.json", "ranges.png", "error_vs_width.png", "kgen-manifest.json"):
        assert (folder / name).is_file(), name
    text = (folder / "report.md").read_text()
    assert "| dt \\ read bits |" in text and "Step size" in text and "derived error bound" in text
    assert (folder / "ranges.png").read_bytes()[:4] == b"\x89PNG"
    # the fixed view runs with the stored choices, like the API
    x = d / "x.npy"
    np.save(x, np.random.RandomState(3).randn(6, 3))
    assert main(["run", str(out), "--inputs", str(x), "-o", str(d / "y.npy"), "--view", "fixed"]) == 0
    prog = lower(circuit, cfg)
    assert np.array_equal(np.load(d / "y.npy"), Emulator(prog).run(np.load(x)).outputs)


def test_quantize_is_deterministic(quantized, tmp_path):
    _, model, out = quantized
    again = tmp_path / "again.kgen"
    assert main(["quantize", str(model), "-o", str(again), *FAST]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_quantize_with_data_and_fixed_widths(quantized, tmp_path):
    _, model, _ = quantized
    data = tmp_path / "cal.npy"
    np.save(data, np.random.RandomState(0).uniform(-1, 1, (80, 3)))
    out = tmp_path / "w.kgen"
    assert main(["quantize", str(model), "-o", str(out), "--data", str(data), "--read-width", "18",
                 "--param-width", "16", "--no-table", "--lanes", "2", "--units", "2", *FAST[4:]]) == 0
    cfg, hdl = load_model(out).quant, load_model(out).hdl
    assert cfg.read.width == 18 and cfg.param_width == 16 and cfg.integrator.width == 32
    assert (hdl.lanes, hdl.units) == (2, 2)


def test_balanced_lanes_follows_the_cycle_formula():
    # a step costs ceil(E/L) + ceil(N/U) + c: lanes past E / ceil(N/U) buy little
    assert balanced_lanes([300, 300], 2) == 16  # capped at the widest the benches verify
    assert balanced_lanes([300, 300], 2, cap=64) == 64
    assert balanced_lanes([40, 100], 12) == 8  # 100 / 12 = 8.3
    assert balanced_lanes([40, 100], 12, units=4) == 16  # 100 / 3
    assert balanced_lanes([5], 9) == 1


@pytest.mark.parametrize("args,needle", [
    (["--read-width", "3"], "--read-width"),
    (["--param-format", "ShiftTanh2.w_src=s0.8"], "needing 1 integer bits"),
    (["--param-format", "Nope.w_src=s1.8"], "KIND.PIECE=FORMAT"),
    (["--param-format", "ShiftTanh2.w_src=q1.8"], "fixed-point format"),
    (["--dt-candidates", "0.1,-1"], "positive step sizes"),
    (["--samples", "0"], "--samples"),
    (["--lanes", "3"], "--lanes: expected a power of two from 1 to 64, found 3"),
    (["--units", "0"], "--units: expected a power of two from 1 to 64, found 0"),
    (["--lanes", "64"], "--lanes: expected at most the largest window's edge count"),
])
def test_bad_quantize_input_is_one_line_exit_2(quantized, tmp_path, capsys, args, needle):
    _, model, _ = quantized
    assert main(["quantize", str(model), "-o", str(tmp_path / "x.kgen"), *FAST, *args]) == 2
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("kgen: error")]
    assert needle in line and err.endswith(line + "\n")


def test_quant_choices_of_another_circuit_are_refused(quantized, tmp_path, capsys):
    _, _, out = quantized
    other = tmp_path / "other.kgen"
    save_model(random_circuit(9), other, extra={MEMBER: read_members(out)[MEMBER]})
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 2)))
    assert main(["run", str(other), "--inputs", str(x), "-o", str(tmp_path / "y.npy"), "--view", "fixed"]) == 2
    assert "quant.json" in capsys.readouterr().err
    with pytest.raises(Exception):
        parse_quant_json(b"{not json")
    with zipfile.ZipFile(out) as zf:
        assert MEMBER in zf.namelist()


def test_fixed_view_reports_saturation_on_stderr(quantized, tmp_path, capsys):
    _, _, out = quantized
    x = tmp_path / "big.npy"
    np.save(x, np.full((2, 3), 1e3))
    assert main(["run", str(out), "--inputs", str(x), "-o", str(tmp_path / "y.npy"), "--view", "fixed"]) == 0
    err = capsys.readouterr().err
    assert "warning: fixed view:" in err and "saturations" in err and "node 1" in err

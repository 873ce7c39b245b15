"""The RTL from the command line: `kgen --target verilog`, `kgen run --view rtl`, `kgen verify --view rtl`.

`kgen run --view rtl` drives whole trajectories from the standalone Verilog
bench; its outputs (and its `--trace`) must equal `--view fixed` bit for bit.
`kgen verify --view rtl` is the generic verify: the rtl trace against the
fixed view's, integer words, atol 0 (with `--bench cocotb` the cocotb bench
also checks every state itself). Bad input is one line on stderr and exit 2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("amaranth")

from kgen.cli import main  # noqa: E402
from kgen.hdl.tools import YOSYS, Sim  # noqa: E402
from kgen.tools import missing_reason  # noqa: E402


def need(sim: Sim):
    reason = missing_reason(sim.tool)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("rtl") / "demo.kgen"
    assert main(["example", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def inputs(model):
    path = model.parent / "x.npy"
    np.save(path, np.random.RandomState(3).uniform(-1, 1, (3, 3)))
    return path


def one_line_error(capsys, argv, match: str):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kgen: error:") and match in err[0], err


def test_target_verilog_writes_core_and_manifest(model, tmp_path, capsys):
    out = tmp_path / "v"
    assert main(["--target", "verilog", str(model), "-o", str(out), "--steps", "6", "--lanes", "4"]) == 0
    text = (out / "kgen_euler.v").read_text()
    doc = json.loads((out / "kgen_euler.json").read_text())
    top = json.loads((out / "kgen-manifest.json").read_text())
    assert "module kgen_euler(" in text and top["digest"] in text.splitlines()[1]
    assert top["target"] == "verilog" and doc["program"]["digest"] == top["digest"]
    assert doc["plan"]["lanes"] == 4 and doc["program"]["read"]["frac_bits"] == 11
    plan = doc["plan"]
    edges = [w["edges"] for w in doc["program"]["windows"]]
    assert plan["cycles_per_step"] == [-(-e // 4) + 6 + plan["overhead_cycles"] for e in edges]
    assert plan["run_cycles"] == 6 * sum(plan["cycles_per_step"])
    again = tmp_path / "v2"
    assert main(["--target", "verilog", str(model), "-o", str(again), "--steps", "6", "--lanes", "4"]) == 0
    assert (again / "kgen_euler.v").read_bytes() == (out / "kgen_euler.v").read_bytes()  # deterministic


def test_lanes_and_units_default_to_the_models_stored_choice(model, tmp_path):
    from kgen.modelfile import Model, load_model
    from kgen.quant import HdlChoices, QuantConfig

    circuit = load_model(model).circuit
    stored = tmp_path / "stored.kgen"
    Model(circuit, quant=QuantConfig(steps=(6,) * len(circuit.windows)), hdl=HdlChoices(lanes=4, units=2)).save(stored)

    def plan(*flags):
        out = tmp_path / f"v{len(flags)}"
        assert main(["--target", "verilog", str(stored), "-o", str(out), *flags]) == 0
        return json.loads((out / "kgen_euler.json").read_text())["plan"]

    assert (plan()["lanes"], plan()["update_units"]) == (4, 2)  # hdl.json's choice
    assert (plan("--lanes", "2")["lanes"], plan("--lanes", "2")["update_units"]) == (2, 2)  # the flag wins
    assert plan("--lanes", "1", "--units", "1")["update_units"] == 1


@pytest.mark.parametrize("sim", [Sim.ICARUS, pytest.param(Sim.VERILATOR, marks=pytest.mark.slow)])
def test_run_rtl_equals_fixed_view(model, inputs, tmp_path, sim, capsys):
    need(sim)
    steps = "30"  # whole trajectory: 90 Euler steps over the three windows
    rtl, fixed = tmp_path / "rtl.npy", tmp_path / "fixed.npy"
    t_rtl, t_fixed = tmp_path / "rtl_trace.npz", tmp_path / "fixed_trace.npz"
    assert main(["run", str(model), "--inputs", str(inputs), "-o", str(rtl), "--view", "rtl", "--steps", steps,
                 "--sim", sim.value, "--lanes", "4", "--trace", str(t_rtl)]) == 0
    assert main(["run", str(model), "--inputs", str(inputs), "-o", str(fixed), "--view", "fixed", "--steps", steps,
                 "--trace", str(t_fixed)]) == 0
    a, b = np.load(rtl), np.load(fixed)
    assert a.shape == (3, 2) and np.array_equal(a, b)
    from kgen.trace import read_trace

    ta, tb = read_trace(t_rtl), read_trace(t_fixed)
    assert ta.source == "rtl" and ta.raw.shape == tb.raw.shape == (91, 3, 6)
    assert np.array_equal(ta.raw, tb.raw) and np.array_equal(ta.t, tb.t)
    assert "cycles per inference" in capsys.readouterr().err


def test_verify_rtl_command(model, capsys):
    """The cocotb bench (random stalls, every state checked) and the generic bit-exact comparison."""
    need(Sim.ICARUS)
    assert main(["verify", str(model), "--view", "rtl", "--sim", "icarus", "--samples", "2", "--steps", "4",
                 "--lanes", "4", "--bench", "cocotb", "--record", "steps", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["passed"] and rep["max_abs_error"] == 0 and rep["tolerance_text"] == "integer words, atol 0"
    assert rep["compared_steps"] == 4 * 3 + 1 and rep["reference"].startswith("fixed view")
    d = rep["details"]
    assert d["mismatches"] == 0 and d["states_checked"] == 2 * 12 * 6 and d["outputs_checked"] == 4
    assert d["cycles_per_inference"] == d["formula_cycles"] == 4 * sum(d["cycles_per_step"])
    assert d["lanes"] == 4 and d["bench"] == "cocotb"


def test_verify_rtl_standalone_at_the_boundaries(model, capsys):
    """The default bench, window boundaries only: equal words, cycles equal to the formula."""
    need(Sim.ICARUS)
    assert main(["verify", str(model), "--view", "rtl", "--samples", "2", "--steps", "4", "--lanes", "2",
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["passed"] and rep["max_abs_error"] == 0 and rep["compared_steps"] == 3 + 1
    d = rep["details"]
    assert d["bench"] == "standalone" and d["cycles_per_inference"] == d["formula_cycles"]


def test_verify_rtl_names_a_wrong_word(model, monkeypatch):
    """An RTL that reports one wrong integrator word fails the generic verify at that step and node."""
    need(Sim.ICARUS)
    from kgen.hdl import testbench
    from kgen.modelfile import load_model
    from kgen.plugins import VIEWS
    from kgen.verify import verify, verify_inputs

    honest = testbench.run_standalone

    def corrupted(*args, **kwargs):
        res = honest(*args, **kwargs)
        res.states[8, 2, 1] += 1  # one LSB of node 3, sample 1, after step 8 (the second window's end)
        return res

    monkeypatch.setattr(testbench, "run_standalone", corrupted)
    m = load_model(model)
    view = VIEWS.get("rtl")
    rep = verify(m, view, verify_inputs(m, None, 2), view.options(steps=4)).report
    assert not rep.passed and "node 3, sample 1" in rep.first_divergence and "1 LSB" in rep.first_divergence


def test_python_api_runs_the_rtl(model):
    """Model.run(view="rtl", ...) takes the flags as keywords and returns the words with the measured figures."""
    need(Sim.ICARUS)
    from kgen.modelfile import load_model

    m = load_model(model)
    x = np.random.default_rng(5).standard_normal((2, 3))
    rtl = m.run(x, view="rtl", steps=3, lanes=2, units=2, storage="ram", sim="icarus")
    fixed = m.run(x, view="fixed", steps=3)
    assert rtl.source == "rtl" and rtl.raw.shape == fixed.raw.shape == (4, 2, 6)
    assert np.array_equal(rtl.raw, fixed.raw) and np.array_equal(rtl.t, fixed.t)
    d = rtl.extra["details"]
    assert (d["lanes"], d["units"], d["storage"]) == (2, 2, "ram")
    assert d["cycles_per_inference"] == d["formula_cycles"] and "L=2, U=2" in rtl.extra["label"]


@pytest.mark.parametrize("argv,match", [
    (["--target", "verilog", "{m}", "-o", "{o}", "--steps", "4", "--lanes", "3"], "--lanes: expected a power of two"),
    (["--target", "verilog", "{m}", "-o", "{o}", "--steps", "4", "--lanes", "32"],
     "--lanes: expected at most the largest window's edge count"),
    (["--target", "verilog", "{m}", "-o", "{o}", "--steps", "4", "--read-format", "s20.20"],
     "--read-format: expected a format of at most 32 bits"),
    (["--target", "verilog", "{m}", "-o", "{o}", "--steps", "4", "--integrator-format", "s9.45"],
     "--integrator-format: expected a format of at most 48 bits"),
    (["--target", "verilog", "{m}", "-o", "{o}", "--steps", "0"], "--steps: expected one positive count"),
    (["--target", "verilog", "{m}", "-o", "{o}"], "Euler steps per window: expected a model quantized"),
    (["verify", "{m}", "--view", "rtl", "--sim", "xsim", "--steps", "4"], "--sim: expected one of icarus, verilator, found 'xsim'"),
    (["verify", "{m}", "--view", "rtl", "--samples", "0", "--steps", "4"], "--samples: expected a positive count"),
    (["verify", "{m}", "--view", "rtl", "--steps", "4", "--bench", "cocotb", "--stall", "1"],
     "--stall: expected a probability in [0, 1)"),
    (["run", "{m}", "--inputs", "{x}", "-o", "{o}.npy", "--view", "float", "--lanes", "4"],
     "--lanes: expected the rtl view, found --view float"),
    (["run", "{m}", "--inputs", "{x}", "-o", "{o}.npy", "--view", "fixed", "--sim", "icarus"],
     "--sim: expected the rtl view, found --view fixed"),
    (["run", "{m}", "--inputs", "{x}", "-o", "{o}.npy", "--view", "rtl", "--steps", "4", "--lanes", "64"],
     "--lanes: expected at most"),
    (["run", "{m}", "--inputs", "{x}", "-o", "{o}.npy", "--view", "rtl", "--steps", "4", "--units", "3"],
     "--units: expected a power of two"),
])
def test_bad_input_is_one_line_exit_2(model, inputs, tmp_path, capsys, argv, match):
    argv = [a.format(m=model, o=tmp_path / "out", x=inputs) for a in argv]
    one_line_error(capsys, argv, match)


@pytest.mark.slow
def test_resource_report(model, tmp_path):
    reason = YOSYS.missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "r"
    assert main(["--target", "verilog", str(model), "-o", str(out), "--steps", "4", "--lanes", "2",
                 "--resources"]) == 0
    res = json.loads((out / "kgen_euler.json").read_text())["resources"]
    assert res["cells"] > 100 and res["flip_flop_bits"] > 500 and res["multipliers"] >= 2
    assert res["memory_bits"] > 1024 * 44  # the tanh table at least

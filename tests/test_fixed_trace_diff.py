"""The trace format and `kgen diff`: round trips, bit-exact and bound-based comparison, named causes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kgen.cli import main
from kgen.emulation.bound import propagate
from kgen.quant import QuantConfig
from kgen.compare import diff
from kgen.emulation.interp import Emulator
from kgen.emulation.lower import lower
from kgen.qformat import QFormat
from kgen.trace import SCHEMA, float_trace, read_trace, trace_bytes, write_trace
from kgen.errors import InputError
from kgen.examples import demo_circuit
from kgen.modelfile import save_model


def fixed_trace(prog, res, bound=None):
    """The bit-exact run's trace (every step recorded)."""
    return prog.trace(res.states, res.flags, "fixed", None, bound)


@pytest.fixture(scope="module")
def run():
    circuit = demo_circuit()
    prog = lower(circuit, QuantConfig(steps=(6, 6, 6)))
    x = np.random.RandomState(0).randn(5, 3)
    res = Emulator(prog).run(x, record=True)
    br = propagate(circuit, prog, x)
    return circuit, prog, x, res, br


def test_trace_round_trip_is_deterministic(run, tmp_path):
    _, prog, _, res, br = run
    tr = fixed_trace(prog, res, br.bound)
    assert tr.v.shape == (prog.total_steps + 1, 5, prog.n_nodes)  # (S, B, N)
    write_trace(tmp_path / "a.npz", tr)
    assert (tmp_path / "a.npz").read_bytes() == trace_bytes(fixed_trace(prog, res, br.bound))
    back = read_trace(tmp_path / "a.npz")
    assert np.array_equal(back.raw, tr.raw) and np.array_equal(back.v, tr.v) and back.source == "fixed"
    assert np.array_equal(back.t, prog.step_times()) and back.format_of(0) == str(prog.integrator)
    assert np.array_equal(back.bound, tr.bound) and back.digest == prog.digest
    with np.load(tmp_path / "a.npz") as z:
        assert str(z["schema"]) == SCHEMA and z["flags"].dtype == np.uint8


def test_identical_fixed_traces_agree_bit_for_bit(run):
    _, prog, _, res, _ = run
    r = diff(fixed_trace(prog, res), fixed_trace(prog, res))
    assert not r.diverged and r.mode == "bit-exact" and r.max_abs == 0


def test_one_corrupted_word_is_found_with_its_step_node_and_cause(run):
    _, prog, _, res, _ = run
    a = fixed_trace(prog, res)
    raw = a.raw.copy()
    raw[7:, 2, 3] += 1  # one LSB at step 7, sample 2, node 4, carried on
    b = replace(a, raw=raw, v=prog.integrator.values(raw))
    r = diff(a, b)
    assert r.diverged and (r.first_step, r.node, r.sample) == (7, 4, 2)
    assert "every state agreed at step 6" in r.cause and "1 LSB" in r.cause


def test_fixed_against_float_euler_within_the_bound_and_outside_a_tight_atol(run):
    circuit, prog, x, res, br = run
    fixed = fixed_trace(prog, res, br.bound)
    flt = float_trace(prog.step_times(), br.float_states, prog.step_windows(), "euler", prog.digest, True)
    r = diff(fixed, flt)
    assert not r.diverged and r.mode == "step" and "bound" in r.tolerance
    tight = diff(fixed, flt, atol=1e-9)
    assert tight.diverged and "tolerance" in tight.cause


def test_a_nan_is_a_divergence_and_a_node_never_recorded_is_left_out(run):
    _, prog, _, res, br = run
    flt = float_trace(prog.step_times(), br.float_states, prog.step_windows(), "euler", prog.digest, True)
    v = flt.v.copy()
    v[4, 1, 2] = np.nan
    r = diff(flt, replace(flt, v=v), atol=1e-9)
    assert r.diverged and (r.first_step, r.sample, r.node) == (4, 1, 3) and "not a finite number" in r.cause
    v = flt.v.copy()
    v[1:, :, 2] = np.nan  # node 3 never recorded after the start (a simulator that saved the outputs only)
    assert not diff(flt, replace(flt, v=v), atol=1e-9).diverged


def test_saturation_is_named_as_the_cause():
    circuit = demo_circuit()
    prog = lower(circuit, QuantConfig(read=QFormat.parse("s2.10"), integrator=QFormat.parse("s2.24"), steps=(5,) * 3))
    x = np.array([[0.2, 0.1, 0.0], [3.5, 0.0, 0.0]])
    res = Emulator(prog).run(x, record=True)
    clean = lower(circuit, QuantConfig(read=QFormat.parse("s4.10"), integrator=QFormat.parse("s4.24"),
                                       steps=(5,) * 3))
    other = Emulator(clean).run(x, record=True)
    r = diff(fixed_trace(prog, res), fixed_trace(clean, other))
    assert r.diverged and "saturation" in r.cause and "in A" in r.cause


def test_traces_of_different_grids_compare_by_time(run):
    circuit, prog, x, res, br = run
    coarse = float_trace(prog.step_times()[::3], br.float_states[::3], prog.step_windows()[::3], "dopri5",
                         prog.digest, False)
    r = diff(fixed_trace(prog, res, br.bound), coarse)
    assert r.mode == "time"
    with pytest.raises(InputError):
        diff(fixed_trace(prog, res), replace(coarse, v=coarse.v[:, :2], flags=coarse.flags[:, :2]))


def test_cli_run_fixed_and_float_traces_and_diff(tmp_path, capsys):
    circuit = demo_circuit()
    model = tmp_path / "m.kgen"
    save_model(circuit, model)
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(1).randn(3, 3))
    fa, fb, fl = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "f.npz"
    assert main(["run", str(model), "--inputs", str(x), "-o", str(tmp_path / "y.npy"), "--view", "fixed",
                 "--steps", "8", "--trace", str(fa)]) == 0
    assert main(["run", str(model), "--inputs", str(x), "-o", str(tmp_path / "y2.npy"), "--view", "fixed",
                 "--steps", "8", "--trace", str(fb)]) == 0
    assert main(["run", str(model), "--inputs", str(x), "-o", str(tmp_path / "y3.npy"), "--method", "euler",
                 "--steps", "8", "--dtype", "float64", "--trace", str(fl)]) == 0
    y = np.load(tmp_path / "y.npy")
    prog = lower(circuit, QuantConfig(steps=(8, 8, 8)))
    assert np.array_equal(y, Emulator(prog).run(np.load(x)).outputs)
    capsys.readouterr()
    assert main(["diff", str(fa), str(fb)]) == 0
    assert "bit-exact" in capsys.readouterr().out
    assert main(["diff", str(fa), str(fl)]) == 0  # within the derived bound
    with pytest.raises(SystemExit) as e:
        main(["diff", str(fa), str(fl), "--atol", "1e-12"])
    assert e.value.code == 1 and "first divergence at step" in capsys.readouterr().out
    flt = read_trace(fl)
    assert flt.fixed_step and flt.method == "euler" and flt.v.shape == (25, 3, circuit.n_nodes)
    assert main(["diff", str(fa), str(tmp_path / "missing.npz")]) == 2
    assert "expected an existing .npz file" in capsys.readouterr().err
    assert main(["run", str(model), "--inputs", str(x), "-o", str(tmp_path / "y.npy"), "--view", "fixed"]) == 2
    err = capsys.readouterr().err
    assert "kgen quantize" in err and err.count("\n") == 1

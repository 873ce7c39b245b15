"""Bad input, tried as an adversarial new user would: one line (kgen's own words), exit 2, nothing written.

The cases of the bad-input issue, by category (data loss and output safety: tests/test_output_safety.py):
wrong answers that must not pass silently, tracebacks that must be one line, misleading messages,
resource limits, the direction of flows, exit codes and a newcomer's friction.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import numpy.lib.format as npy_format
import pytest
import torch
import yaml

from kgen.cli import main

from test_cli_errors import CONFIG, write_checkpoint


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(rc, err, expect_rc: int = 2) -> str:
    assert rc == expect_rc, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kgen: error: ")
    return lines[0][len("kgen: error: "):]


@pytest.fixture()
def model(tmp_path):
    assert main(["example", "-o", str(tmp_path / "m.kgen")]) == 0
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(-1, 1, (2, 3)))
    return tmp_path / "m.kgen"


def members(path):
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def write_zip(path, items, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we write on purpose
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in items:
                zf.writestr(name, data)
    return path


# -- wrong answers, exit 0 no more ---------------------------------------------------------------------

def test_a_trace_holding_nan_diverges(model, tmp_path, capsys):
    from dataclasses import replace

    from kgen.trace import read_trace, write_trace

    assert main(["run", str(model), "--inputs", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
                 "--trace", str(tmp_path / "a.npz")]) == 0
    a = read_trace(tmp_path / "a.npz")
    v = a.v.copy()
    v[2, 1, 4] = np.nan
    write_trace(tmp_path / "b.npz", replace(a, v=v))
    with pytest.raises(SystemExit) as e:
        main(["diff", str(tmp_path / "a.npz"), str(tmp_path / "b.npz")])
    assert e.value.code == 1 and "B is not a finite number there" in capsys.readouterr().out


def test_model_defaults_out_of_range_are_refused(model, tmp_path, capsys):
    items = members(model)
    meta = json.loads(items[0][1])
    meta["defaults"]["rtol"] = -1
    bad = write_zip(tmp_path / "bad.kgen", [("circuit.json", json.dumps(meta).encode())] + items[1:])
    rc, _, err = run(["run", bad, "--inputs", tmp_path / "x.npy", "-o", tmp_path / "y.npy"], capsys)
    assert one_line(rc, err) == "solver rtol: expected a finite positive number, found -1"
    assert not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("flags,message", [
    (["--rtol", "-1"], "--rtol: expected a finite positive number, found -1.0"),
    (["--atol", "nan"], "--atol: expected a finite positive number, found nan"),
    (["--method", "bogus"], "--method: expected one of euler, rk4, midpoint, explicit_adams, implicit_adams, dopri5, "
                            "dopri8, bosh3, fehlberg2, adaptive_heun, scipy_solver, found 'bogus'"),
    (["--steps", "0"], "--steps: expected one positive count or one per window, found '0'"),
    (["--dtype", "float16"], "--dtype: expected one of float32, float64, found 'float16'"),
], ids=["rtol", "atol-nan", "method", "steps", "dtype"])
def test_run_options_are_range_checked(model, tmp_path, capsys, flags, message):
    rc, _, err = run(["run", model, "--inputs", tmp_path / "x.npy", "-o", tmp_path / "y.npy", *flags], capsys)
    assert one_line(rc, err) == message and not (tmp_path / "y.npy").exists()


def test_lanes_zero_is_refused_not_replaced(model, tmp_path, capsys):
    pytest.importorskip("amaranth")
    rc, _, err = run(["run", model, "--view", "rtl", "--steps", "4", "--lanes", "0", "--inputs", tmp_path / "x.npy",
                      "-o", tmp_path / "y.npy"], capsys)
    assert one_line(rc, err) == "--lanes: expected a power of two from 1 to 64, found 0"


@pytest.mark.parametrize("array,found", [
    (np.zeros(3), "shape (3,) (one input is an array of shape (1, 3))"),
    (np.zeros(2), "shape (2,) (one input is an array of shape (1, 3))"),
    (np.zeros((2, 4)), "shape (2, 4)"),
    (np.zeros((0, 3)), "shape (0, 3)"),
    (np.zeros((2, 3), complex), "dtype complex128"),
    (np.zeros((2, 3), bool), "dtype bool"),
    (np.zeros((2, 3), np.int64), "dtype int64 (convert with x.astype(float))"),
    (np.array([[0.0, np.inf, 1.0]]), "NaN or Inf"),
], ids=["vector", "short-vector", "width", "empty", "complex", "bool", "int", "inf"])
def test_inputs_are_exactly_two_dimensional_real_floats(model, tmp_path, capsys, array, found):
    np.save(tmp_path / "bad.npy", array)
    rc, _, err = run(["run", model, "--inputs", tmp_path / "bad.npy", "-o", tmp_path / "y.npy"], capsys)
    msg = one_line(rc, err)
    assert msg.startswith(f"inputs {tmp_path / 'bad.npy'}: expected ") and msg.endswith(f"found {found}"), msg
    assert not (tmp_path / "y.npy").exists()


def test_unknown_config_keys_are_refused_with_their_path(tmp_path, capsys):
    cfg = yaml.safe_load(yaml.safe_dump(CONFIG))
    cfg["network"]["bogus_key"] = 1
    ck = write_checkpoint(tmp_path / "ck", cfg)
    rc, _, err = run(["import", ck / "config.yaml", ck / "model.pth", "-o", tmp_path / "m.kgen"], capsys)
    assert one_line(rc, err) == (f"config {ck / 'config.yaml'}: expected keys of network among adjoint, encoder, "
                                 "fill, initialization, model, net_struct, projector, residual, found "
                                 "network.bogus_key")
    cfg = yaml.safe_load(yaml.safe_dump(CONFIG))
    cfg["simulaton"] = {}
    ck = write_checkpoint(tmp_path / "ck2", cfg)
    rc, _, err = run(["info", ck], capsys)
    assert one_line(rc, err).endswith("expected keys of the top level among batch_size, network, num_worker, "
                                      "simulation, test, test_bench, train, visualization, found simulaton")


def test_the_ten_reference_configs_use_only_known_keys(reference):
    from kgen.original import check_keys, read_config

    for cfg in sorted(reference.glob("*/config.yaml")):
        check_keys(read_config(cfg), cfg)


def test_a_model_file_with_two_circuits_is_refused(model, tmp_path, capsys):
    items = members(model)
    bad = write_zip(tmp_path / "dup.kgen", [items[0]] + items)
    rc, _, err = run(["info", bad], capsys)
    assert one_line(rc, err) == f"model file {bad}: expected each member once, found two members named circuit.json"


# -- one line, never a traceback ------------------------------------------------------------------------

def test_circuit_json_that_is_a_list(model, tmp_path, capsys):
    bad = write_zip(tmp_path / "list.kgen", [("circuit.json", b"[1, 2]")] + members(model)[1:])
    rc, _, err = run(["info", bad], capsys)
    assert one_line(rc, err) == f"{bad}: circuit.json: expected a JSON object, found list"


def test_inputs_that_blow_the_solver_up(model, tmp_path, capsys):
    np.save(tmp_path / "huge.npy", np.full((1, 3), 1e300))
    rc, _, err = run(["run", model, "--inputs", tmp_path / "huge.npy", "-o", tmp_path / "y.npy"], capsys)
    assert one_line(rc, err) == ("the dopri5 solve of window 0: expected a state the solver can follow, found its "
                                 "step size underflowing: the node voltages grow without bound (inputs far outside "
                                 "the model's range?)")
    from test_analog_errors import blowup_model  # dv/dt = relu(1000 v + 1): e^1000 by t = 1

    blowup = blowup_model(tmp_path)
    rc, _, err = run(["run", blowup, "--inputs", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--method", "rk4",
                      "--steps", "10"], capsys)
    assert one_line(rc, err) == ("float view's final state: expected finite node voltages, found nan at node 1 of "
                                 "input 0 (the voltages grow without bound on these inputs)")
    assert not (tmp_path / "y.npy").exists()


def test_a_config_that_is_not_utf8_or_is_a_folder(tmp_path, capsys):
    ck = write_checkpoint(tmp_path / "ck")
    (ck / "latin.yaml").write_bytes("network:\n  model: caf\xe9\n".encode("latin-1"))
    rc, _, err = run(["import", ck / "latin.yaml", ck / "model.pth", "-o", tmp_path / "m.kgen"], capsys)
    assert one_line(rc, err) == f"config {ck / 'latin.yaml'}: expected UTF-8 text (YAML), found bytes that are not UTF-8"
    rc, _, err = run(["import", ck, ck / "model.pth", "-o", tmp_path / "m.kgen"], capsys)
    assert one_line(rc, err) == f"config: expected a YAML file, found a directory {ck}"


def test_writing_where_nothing_can_be_written(model, tmp_path, capsys):
    rc, _, err = run(["run", model, "--inputs", tmp_path / "x.npy", "-o", "/proc/kgen-y.npy"], capsys)
    assert one_line(rc, err).startswith("output path /proc/kgen-y.npy: expected a place kgen can write, found ")
    rc, _, err = run(["--target", "spice", model, "-o", "/proc/kgen-out"], capsys)
    assert one_line(rc, err).startswith("output directory /proc/kgen-out: expected a place kgen can write, found ")


def test_writing_into_a_read_only_folder(model, tmp_path):
    # root writes into read-only folders; as root kgen runs without the capability that allows it (setpriv)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    for argv, label in ((["run", model, "--inputs", tmp_path / "x.npy", "-o", ro / "y.npy"], f"output path {ro / 'y.npy'}"),
                        (["--target", "spice", model, "-o", ro / "out"], f"output directory {ro / 'out'}")):
        p = subprocess.run(prefix + [sys.executable, "-m", "kgen", *map(str, argv)], capture_output=True, text=True)
        assert one_line(p.returncode, p.stderr).startswith(f"{label}: expected a place kgen can write, found "), p.stderr
    assert list(ro.iterdir()) == []


@pytest.mark.parametrize("argv,message", [
    (["example", "-o", "{d}/e.kgen", "--seed", "-1"], "--seed: expected a seed in 0..4294967295, found -1"),
    (["diff", "{d}/a.npz", "{d}/b.npz", "--atol", "nan"], "--atol: expected a finite non-negative tolerance, found nan"),
    (["verify", "{m}", "--view", "fixed", "--samples", "0"], "--samples: expected a positive count, found 0"),
    (["verify", "{m}", "--view", "fixed", "--seed", "-3", "--steps", "4"],
     "--seed: expected a seed in 0..4294967295, found -3"),
    (["eval", "{m}", "--task", "twomoon", "--samples", "0"], "--samples: expected a positive count, found 0"),
    (["train", "--task", "twomoon", "-o", "{d}/t.kgen", "--iterations", "0"],
     "--iterations: expected a positive count, found 0"),
    (["train", "--task", "digits", "-o", "{d}/t.kgen", "--lr", "-0.1"], "--lr: expected a finite positive number, "
                                                                         "found -0.1"),
    (["quantize", "{m}", "-o", "{d}/q.kgen", "--accuracy", "nan"], "--accuracy: expected a finite positive number, "
                                                                    "found nan"),
    (["quantize", "{m}", "-o", "{d}/q.kgen", "--seed", "-1"], "--seed: expected a seed in 0..4294967295, found -1"),
], ids=["example-seed", "diff-atol", "verify-samples", "verify-seed", "eval-samples", "train-iterations",
        "train-lr", "quantize-accuracy", "quantize-seed"])
def test_numbers_are_checked_at_the_boundary(model, tmp_path, capsys, argv, message):
    rc, _, err = run([a.format(m=model, d=tmp_path) for a in argv], capsys)
    assert one_line(rc, err) == message
    assert not [p for p in tmp_path.iterdir() if p.name not in ("m.kgen", "x.npy")]


def test_an_npy_header_claiming_15_gib(model, tmp_path, capsys):
    path = tmp_path / "big.npy"
    with open(path, "wb") as fh:
        npy_format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (1 << 30, 15)})
        fh.write(b"\0" * 64)
    rc, _, err = run(["run", model, "--inputs", path, "-o", tmp_path / "y.npy"], capsys)
    assert one_line(rc, err) == (f"inputs {path}: expected 128849018880 bytes of data for shape (1073741824, 15) "
                                 "float64, found 64 (the file is truncated or its header wrong)")


# -- our own messages ------------------------------------------------------------------------------------

@pytest.mark.parametrize("content,found", [(b"hello, not an array\n", "a file that is not one"),
                                           (bytes(range(256)) * 8, "a file that is not one")],
                         ids=["text", "random"])
def test_a_file_that_is_not_npy(model, tmp_path, capsys, content, found):
    (tmp_path / "bad.npy").write_bytes(content)
    rc, _, err = run(["run", model, "--inputs", tmp_path / "bad.npy", "-o", tmp_path / "y.npy"], capsys)
    msg = one_line(rc, err)
    assert msg == f"inputs {tmp_path / 'bad.npy'}: expected a NumPy .npy file (np.save), found {found}"
    assert "pickle" not in msg


def test_a_pickled_npy_is_never_unpickled(model, tmp_path, capsys):
    np.save(tmp_path / "obj.npy", np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    rc, _, err = run(["run", model, "--inputs", tmp_path / "obj.npy", "-o", tmp_path / "y.npy"], capsys)
    assert one_line(rc, err).endswith("expected an array of numbers, found Python objects (kgen never unpickles)")


@pytest.mark.parametrize("content,found", [(b"hello, not a checkpoint\n", "a text file"),
                                           (bytes(range(129, 256)) * 8, "bytes of another format"),
                                           (b"PK\x03\x04garbage", "a damaged zip archive or one torch.save did not write"),
                                           (b"\x80\x02garbage", "a damaged or foreign pickle")],
                         ids=["text", "random", "zip", "pickle"])
def test_a_file_that_is_not_a_checkpoint(tmp_path, capsys, content, found):
    ck = write_checkpoint(tmp_path / "ck")
    (ck / "model.pth").write_bytes(content)
    rc, _, err = run(["import", ck / "config.yaml", ck / "model.pth", "-o", tmp_path / "m.kgen"], capsys)
    msg = one_line(rc, err)
    assert msg == f"checkpoint {ck / 'model.pth'}: expected a PyTorch state_dict archive, found {found}"
    assert "weights_only" not in msg and "pickle" not in msg.replace("foreign pickle", "")


def test_library_warnings_stay_off_the_error_line(tmp_path, capsys, monkeypatch):
    """A third-party warning before a failure adds no lines; `--debug` shows it."""
    import kgen.original

    real = kgen.original.read_state_dict

    def warns_then_fails(path):
        warnings.warn("torch.load received a legacy archive", UserWarning)
        return real(path)

    monkeypatch.setattr(kgen.original, "read_state_dict", warns_then_fails)
    ck = write_checkpoint(tmp_path / "ck")
    (ck / "model.pth").write_text("not a checkpoint\n")
    rc, _, err = run(["import", ck / "config.yaml", ck / "model.pth", "-o", tmp_path / "m.kgen"], capsys)
    one_line(rc, err)
    rc, _, err = run(["--debug", "import", ck / "config.yaml", ck / "model.pth", "-o", tmp_path / "m.kgen"], capsys)
    assert rc == 2 and "UserWarning: torch.load received a legacy archive" in err


def test_eval_names_a_task_that_does_not_match_the_model(tmp_path, capsys):
    ck = write_checkpoint(tmp_path / "ck")
    rc, _, err = run(["eval", ck, "--task", "digits"], capsys)
    assert one_line(rc, err) == "model for task digits: expected a classifier model, found a flow model with 2 inputs"


# -- resource limits ------------------------------------------------------------------------------------------

def test_a_small_file_holding_a_huge_member_is_refused_before_decompressing(model, tmp_path, capsys):
    items = members(model)
    bomb = tmp_path / "bomb.kgen"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(*items[0])
        with zf.open("params.npz", "w", force_zip64=True) as fh:
            zeros = b"\0" * (1 << 24)
            for _ in range(64):  # 1 GiB of zeros, about 1 MB deflated
                fh.write(zeros)
    assert bomb.stat().st_size < 2 << 20
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rc, _, err = run(["info", bomb], capsys)
    assert one_line(rc, err).endswith("params.npz: expected at most 8688 bytes (what the circuit needs), "
                                      "found 1073741824 bytes")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 << 10  # KiB: never unpacked


def test_an_inner_member_of_params_npz_that_unpacks_huge_is_refused(model, tmp_path, capsys):
    items = dict(members(model))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("capacitance.npy", b"\0" * (1 << 20))  # 1 MiB of zeros: about 1 KiB deflated
    items["params.npz"] = inner.getvalue()
    bad = write_zip(tmp_path / "inner.kgen", list(items.items()))
    rc, _, err = run(["info", bad], capsys)
    assert "params.npz: expected at most 8688 bytes of arrays (what the circuit needs), found 1048576 bytes" in \
        one_line(rc, err)


# -- direction of flows: one word, one direction --------------------------------------------------------------

def test_quantize_sizes_the_twin_for_the_direction_it_runs(tmp_path, capsys, reference):
    fast = ["--samples", "64", "--ref-samples", "32", "--eval-samples", "32", "--no-table", "--dt-candidates", "0.05"]
    assert main(["quantize", str(reference / "twomoon"), "-o", str(tmp_path / "f.kgen"), *fast]) == 0
    err = capsys.readouterr().err
    assert "(forward)" in err
    from kgen.modelfile import load_model

    assert load_model(tmp_path / "f.kgen").quant.extra["direction"] == "forward"
    assert main(["quantize", str(reference / "twomoon"), "-o", str(tmp_path / "r.kgen"), "--reverse", *fast]) == 0
    assert "(reverse)" in capsys.readouterr().err
    assert load_model(tmp_path / "r.kgen").quant.extra["direction"] == "reverse"


def test_quantize_refuses_an_unstable_dt_and_keeps_the_good_model(model, tmp_path, capsys):
    fast = ["--samples", "40", "--ref-samples", "16", "--eval-samples", "16", "--no-table"]
    good = tmp_path / "q.kgen"
    assert main(["quantize", str(model), "-o", str(good), *fast, "--dt-candidates", "0.1"]) == 0
    before = good.read_bytes(), (tmp_path / "q.kgen.report" / "report.md").read_bytes()
    capsys.readouterr()
    rc, _, err = run(["quantize", model, "-o", good, *fast, "--dt", "5"], capsys)
    (line,) = [ln for ln in err.splitlines() if ln.startswith("kgen: error")]
    assert rc == 2 and line.startswith("kgen: error: --dt: expected at most the stability bound 2/rho = ")
    assert line.endswith("of forward Euler on these inputs (or --allow-unstable), found 5")
    assert (good.read_bytes(), (tmp_path / "q.kgen.report" / "report.md").read_bytes()) == before
    assert main(["quantize", str(model), "-o", str(tmp_path / "u.kgen"), *fast, "--dt", "0.5",
                 "--allow-unstable"]) == 0


# -- exit codes: 0 passed, 1 a check failed, 2 bad input -------------------------------------------------------

def test_exit_codes_follow_test_tools(model, tmp_path, capsys):
    assert main(["verify", str(model), "--view", "fixed", "--steps", "10", "--samples", "2"]) == 0
    assert "  passed" in capsys.readouterr().out
    rc = main(["verify", str(model), "--view", "fixed", "--steps", "10", "--samples", "2", "--tol", "1e-12"])
    out, err = capsys.readouterr()
    assert rc == 1 and "  FAILED: first divergence at step" in out
    assert one_line(rc, err, 1).startswith("fixed vs float view (method euler")
    assert main(["verify", str(model), "--view", "fixed", "--steps", "10", "--samples", "2", "--tol", "-1"]) == 2


# -- a newcomer's friction ------------------------------------------------------------------------------------

def test_every_flag_has_help():
    import argparse

    from kgen.cli import _Parser, cli_parsers

    for name, parser in cli_parsers():
        assert isinstance(parser, _Parser)
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


def test_the_overview_lists_verbs_targets_and_views(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("quantize", "verify", "spice, verilog, veriloga", "fixed, float, rtl, spice, veriloga"):
        assert word in out


def test_counts_read_as_a_person_writes_them(model, tmp_path, capsys):
    np.save(tmp_path / "one.npy", np.zeros((1, 3)))
    assert main(["run", str(model), "--inputs", str(tmp_path / "one.npy"), "-o", str(tmp_path / "y.npy")]) == 0
    assert "on 1 input ->" in capsys.readouterr().out
    assert main(["--target", "spice", str(model), "-o", str(tmp_path / "sp")]) == 0
    assert "wrote 1 file for demo" in capsys.readouterr().out


def test_progress_shows_on_a_terminal_only(model, tmp_path):
    """One progress-bar library (tqdm) on stderr: forced on here (KGEN_PROGRESS=1), off into a pipe."""
    env = dict(os.environ, KGEN_PROGRESS="1")
    argv = [sys.executable, "-m", "kgen", "eval", str(model), "--task", "twomoon", "--samples", "20"]
    shown = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert shown.returncode == 2  # the demo is not a flow model: the check comes before any work
    flow = tmp_path / "flow"
    write_checkpoint(flow)
    argv = [sys.executable, "-m", "kgen", "eval", str(flow), "--task", "twomoon", "--samples", "20"]
    shown = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and "kgen: eval twomoon" in shown.stderr and "/20 [" in shown.stderr
    quiet = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, KGEN_PROGRESS=""))
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_the_rtl_run_and_the_quantize_table_show_progress(model, tmp_path):
    """The standalone RTL bench reports each finished inference (the bar advances while it runs), and
    quantize's accuracy table counts its cells."""
    from kgen.hdl.tools import IVERILOG

    if IVERILOG.missing():
        pytest.skip(IVERILOG.missing())
    env = dict(os.environ, KGEN_PROGRESS="1")
    q = tmp_path / "q.kgen"
    made = subprocess.run([sys.executable, "-m", "kgen", "quantize", str(model), "-o", str(q), "--samples", "50",
                           "--ref-samples", "8", "--eval-samples", "8", "--table-samples", "4", "--dt", "0.05"],
                          capture_output=True, text=True, env=env)
    assert made.returncode == 0, made.stderr
    table = [f for f in made.stderr.replace("\r", "\n").splitlines() if f.startswith("kgen: quantize: accuracy table")]
    done = [f.split("|")[2].split()[0] for f in table if f.count("|") >= 2]
    assert done and {d.split("/")[1] for d in done} == {"7"}  # one dt x the seven widths that fit
    assert max(int(d.split("/")[0]) for d in done) >= 1  # tqdm may skip frames, never the counting
    x = tmp_path / "x5.npy"
    np.save(x, np.random.default_rng(1).uniform(-1, 1, (5, 3)))
    shown = subprocess.run([sys.executable, "-m", "kgen", "run", str(q), "--view", "rtl", "--inputs", str(x), "-o",
                            str(tmp_path / "y.npy")], capture_output=True, text=True, env=env)
    assert shown.returncode == 0, shown.stderr
    frames = [f for f in shown.stderr.replace("\r", "\n").splitlines() if f.startswith("kgen: icarus simulation:")]
    done = [f.split("|")[2].split()[0] for f in frames if f.count("|") >= 2]
    assert done and {d.split("/")[1] for d in done} == {"5"}
    assert 1 <= max(int(d.split("/")[0]) for d in done) <= 5


def test_a_closed_pipe_is_not_a_traceback(model):
    done = subprocess.run(f"{sys.executable} -m kgen info {model} --json | head -c 10", shell=True,
                          capture_output=True, text=True)
    assert "Traceback" not in done.stderr and done.stdout.startswith("{")

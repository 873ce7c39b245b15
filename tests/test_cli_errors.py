"""Bad input: one line on stderr saying what was expected and what was found, exit 2, nothing written."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from kgen.cli import main

CONFIG = {
    "test_bench": "twomoon",
    "network": {"adjoint": True, "initialization": "kaiming", "model": {"name": "ShiftTanh2", "args": {}},
                "net_struct": [{"name": "_fully_connect", "args": {"num_node": 3, "repeat": [2, 2]}}] * 2},
    "simulation": {"method": "dopri5", "tol": 1e-4, "t_end": [0.0, 0.5, 1.0], "first_step": 1e-3,
                   "min_step": 1e-6, "step_size": 1e-6},
}


def write_checkpoint(folder, config=None, state=None):
    folder.mkdir(parents=True, exist_ok=True)
    config = config or CONFIG
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    if state is None:
        torch.manual_seed(0)
        state = {f"circuit.layer_list.{w}.model.param": torch.randn(3, 24) * 0.3 for w in range(2)}
    torch.save(state, folder / "model.pth")
    return folder


def run_cli(argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, message, out_path=None):
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0] == f"kgen: error: {message}", lines[0]
    if out_path is not None:
        assert not out_path.exists()
        assert not [p for p in out_path.parent.iterdir() if p.name.endswith(".tmp")]


def import_error(tmp_path, capsys, config=None, state=None, message=None):
    ck = write_checkpoint(tmp_path / "ck", config, state)
    out = tmp_path / "out" / "m.kgen"
    out.parent.mkdir()
    rc, _, err = run_cli(["import", ck / "config.yaml", ck / "model.pth", "-o", out], capsys)
    assert_one_line_error(rc, err, message.format(ck=ck), out)


def with_net(**changes):
    cfg = yaml.safe_load(yaml.safe_dump(CONFIG))
    cfg["network"].update(changes)
    return cfg


def test_good_checkpoint_imports(tmp_path, capsys):
    ck = write_checkpoint(tmp_path / "ck")
    rc, out, err = run_cli(["import", ck / "config.yaml", ck / "model.pth", "-o", tmp_path / "m.kgen"], capsys)
    assert rc == 0 and err == ""
    assert "2 nodes, 24 edges, 2 windows, 144 parameters" in out


def test_truncated_pth(tmp_path, capsys):
    ck = write_checkpoint(tmp_path / "ck")
    data = (ck / "model.pth").read_bytes()
    (ck / "model.pth").write_bytes(data[: len(data) // 2])
    out = tmp_path / "m.kgen"
    rc, _, err = run_cli(["import", ck / "config.yaml", ck / "model.pth", "-o", out], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"kgen: error: checkpoint {ck / 'model.pth'}: expected a PyTorch state_dict archive, found ")
    assert not out.exists()


def test_non_zip_pth(tmp_path, capsys):
    ck = write_checkpoint(tmp_path / "ck")
    (ck / "model.pth").write_text("not a checkpoint\n")
    out = tmp_path / "m.kgen"
    rc, _, err = run_cli(["import", ck / "config.yaml", ck / "model.pth", "-o", out], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"kgen: error: checkpoint {ck / 'model.pth'}: expected a PyTorch state_dict archive, found ")
    assert not out.exists()


def test_yaml_that_does_not_parse(tmp_path, capsys):
    ck = write_checkpoint(tmp_path / "ck")
    (ck / "config.yaml").write_text("network:\n  model: [unclosed\n")
    out = tmp_path / "m.kgen"
    rc, _, err = run_cli(["import", ck / "config.yaml", ck / "model.pth", "-o", out], capsys)
    assert_one_line_error(rc, err, f"config {ck / 'config.yaml'}: expected valid YAML, found a parse error at line 3", out)


def test_tensor_shape_that_does_not_fit(tmp_path, capsys):
    state = {f"circuit.layer_list.{w}.model.param": torch.zeros(3, 20) for w in range(2)}
    import_error(tmp_path, capsys, state=state, message="circuit.layer_list.0.model.param: expected shape (3, 24) for "
                                                        "ShiftTanh2 on _fully_connect, found shape (3, 20)")


def test_unknown_device(tmp_path, capsys):
    import_error(tmp_path, capsys, config=with_net(model={"name": "Memristor", "args": {}}),
                 message="device kind: expected one of AffineIdentity, AffineLeakyRelu, AffineRelu, AffineTanh, "
                         "Conductance, DiffIdentity, DiffLeakyRelu, DiffRelu, DiffTanh, ShiftLeakyRelu1, "
                         "ShiftLeakyRelu2, ShiftRelu1, ShiftRelu2, ShiftTanh1, ShiftTanh2, found 'Memristor'")


def test_unknown_topology(tmp_path, capsys):
    import_error(tmp_path, capsys, config=with_net(net_struct=[{"name": "_ring", "args": {}}] * 2),
                 message="topology: expected one of edge_list, fully_connect, mix_connect, neighbor, neighbor_index, "
                         "simple_connect, found '_ring'")


@pytest.mark.parametrize("changes,message", [
    ({"encoder": [784, 100]}, "network.encoder: expected none, found [784, 100]"),
    ({"projector": "mlp_2_10"}, "network.projector: expected none, lastN or firstN, found 'mlp_2_10'"),
    ({"projector": "reshape2"}, "network.projector: expected none, lastN or firstN, found 'reshape2'"),
    ({"residual": [0, 1]}, "network.residual: expected none, found [0, 1]"),
    ({"fill": "mirror"}, "network.fill: expected zeros or repeat, found 'mirror'"),
], ids=["encoder", "mlp-projector", "reshape-projector", "residual", "fill-unknown"])
def test_unsupported_original_feature(tmp_path, capsys, changes, message):
    import_error(tmp_path, capsys, config=with_net(**changes), message=message)


def test_node_set_that_shrinks(tmp_path, capsys):
    cfg = with_net(net_struct=[{"name": "_fully_connect", "args": {"num_node": 4, "repeat": [1, 1]}},
                               {"name": "_fully_connect", "args": {"num_node": 3, "repeat": [2, 2]}}])
    import_error(tmp_path, capsys, config=cfg,
                 message="node set of window 1: expected at least the 3 nodes of window 0, found 2 nodes (it shrinks)")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_parameters(tmp_path, capsys, bad):
    state = {f"circuit.layer_list.{w}.model.param": torch.zeros(3, 24) for w in range(2)}
    state["circuit.layer_list.1.model.param"][2, 5] = bad
    import_error(tmp_path, capsys, state=state,
                 message=f"window 1 parameter row 2 of edge 5: expected a finite number, found {bad}")


def test_node_index_out_of_range(tmp_path, capsys):
    cfg = with_net(net_struct=[{"name": "edge_list", "args": {"edges": [[0, 1], [1, 2], [2, -1]]}}] * 2)
    state = {f"circuit.layer_list.{w}.model.param": torch.zeros(3, 3) for w in range(2)}
    import_error(tmp_path, capsys, config=cfg, state=state,
                 message="edge destination of edge 2: expected a node index in 0..2, found -1")


def test_empty_edge_list(tmp_path, capsys):
    cfg = with_net(net_struct=[{"name": "edge_list", "args": {"edges": []}}] * 2)
    state = {f"circuit.layer_list.{w}.model.param": torch.zeros(3, 0) for w in range(2)}
    import_error(tmp_path, capsys, config=cfg, state=state,
                 message="edge list: expected a non-empty list of (src, des) pairs, found shape (0,)")


def test_inputs_of_the_wrong_width(tmp_path, capsys):
    ck = write_checkpoint(tmp_path / "ck")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4, 3)))
    out = tmp_path / "y.npy"
    rc, _, err = run_cli(["run", ck, "--inputs", x, "-o", out], capsys)
    assert_one_line_error(rc, err, f"inputs {x}: expected shape (batch, 2), found shape (4, 3)", out)


def test_output_path_is_an_existing_non_kgen_directory(tmp_path, capsys):
    ck = write_checkpoint(tmp_path / "ck")
    target = tmp_path / "existing"
    target.mkdir()
    (target / "keep.txt").write_text("user data")
    rc, _, err = run_cli(["import", ck / "config.yaml", ck / "model.pth", "-o", target], capsys)
    assert_one_line_error(rc, err, f"output path {target}: expected a file path, found an existing directory")
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_unknown_verb_and_missing_arguments(capsys):
    rc, _, err = run_cli(["frobnicate"], capsys)
    from kgen.cli import COMMANDS

    assert list(COMMANDS)[:5] == ["import", "run", "eval", "info", "example"]
    assert_one_line_error(rc, err, f"command: expected a verb ({', '.join(COMMANDS)}) or "
                                   "--target TARGET MODEL -o DIR, found 'frobnicate'")
    rc, _, err = run_cli(["run", "m.kgen"], capsys)
    assert_one_line_error(rc, err, "kgen run: the following arguments are required: --inputs, -o/--output")


def test_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "none.kgen"
    base = [sys.executable, "-m", "kgen", "info", str(missing)]
    plain = subprocess.run(base, capture_output=True, text=True)
    assert plain.returncode == 2
    assert plain.stderr == f"kgen: error: model file: expected an existing file, found no file {missing}\n"
    debug = subprocess.run(base + ["--debug"], capture_output=True, text=True)
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().endswith(f"kgen: error: model file: expected an existing file, found no file {missing}")

"""The board as a view: `kgen run|verify --view board` against the simulated board (Verilator, a pseudo-terminal).

The host code is the one a real board gets (pyserial on a port); the board
is the board design's Verilog in Verilator behind a pseudo-terminal
(`kgen fpga simulate`). Its outputs must equal the bit-exact model's word
for word on 16 inputs; a corrupted request byte, a corrupted reply byte and a
board carrying another design are each one line and exit 2, nothing written.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("amaranth")
pytest.importorskip("serial", reason="pyserial: expected installed, found none (install: pip install pyserial)")

from kgen.cli import main  # noqa: E402
from kgen.hdl.tools import VERILATOR  # noqa: E402
from kgen.tools import missing_reason  # noqa: E402

pytestmark = pytest.mark.slow
STEPS = "4"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    reason = missing_reason(VERILATOR)
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("board")
    path = folder / "demo.kgen"
    assert main(["example", "-o", str(path)]) == 0
    x = folder / "x.npy"
    np.save(x, np.random.default_rng(1).uniform(-1, 1, (16, 3)))
    old = os.environ.get("KGEN_BOARD_CACHE")
    os.environ["KGEN_BOARD_CACHE"] = str(folder / "cache")  # one build for the module, not the user's cache
    yield path, x
    if old is None:
        os.environ.pop("KGEN_BOARD_CACHE", None)
    else:
        os.environ["KGEN_BOARD_CACHE"] = old


def plan_of(path):
    from kgen.hdl.source import twin_plan
    from kgen.hdl.target import VerilogOptions
    from kgen.modelfile import load_model

    return twin_plan(load_model(path), VerilogOptions(steps=int(STEPS)), debug=True)


def one_line_error(capsys, argv, match: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kgen: error:") and match in err[0], err
    return err[0]


def test_board_outputs_are_the_bit_exact_models_on_16_inputs(demo, tmp_path, capsys):
    from kgen.hdl.board_sim import simulated_board

    model, x = demo
    assert main(["run", str(model), "--view", "fixed", "--steps", STEPS, "--inputs", str(x), "-o",
                 str(tmp_path / "fixed.npy")]) == 0
    with simulated_board(plan_of(model)) as port:
        assert main(["run", str(model), "--view", "board", "--port", port, "--steps", STEPS, "--inputs", str(x),
                     "-o", str(tmp_path / "board.npy")]) == 0
        capsys.readouterr()
        assert main(["verify", str(model), "--view", "board", "--port", port, "--steps", STEPS, "--inputs",
                     str(x), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
    board, fixed = np.load(tmp_path / "board.npy"), np.load(tmp_path / "fixed.npy")
    assert board.shape == (16, 2) and np.array_equal(board, fixed)
    assert doc["passed"] and doc["max_abs_error"] == 0.0 and doc["tolerance_text"] == "integer words, atol 0"
    assert doc["details"]["cycles_per_inference"] == plan_of(model).run_cycles()


@pytest.mark.parametrize("flip,match", [
    ({"flip_rx": 10}, ", LOAD: expected an OK reply, found BAD_CRC (a request with a bad checksum)"),
    ({"flip_tx": 2}, ", STATUS: reply checksum 0x"),
])
def test_a_corrupted_byte_is_one_line_and_nothing_is_written(demo, tmp_path, capsys, flip, match):
    """Byte 10 the board receives is the first LOAD's first payload byte; byte 2 it sends, STATUS's status."""
    from kgen.hdl.board_sim import simulated_board

    model, x = demo
    out = tmp_path / "y.npy"
    with simulated_board(plan_of(model), **flip) as port:
        line = one_line_error(capsys, ["run", str(model), "--view", "board", "--port", port, "--steps", STEPS,
                                       "--inputs", str(x), "-o", str(out)], f"board at {port}{match}")
    assert line.endswith("(a corrupted reply)") == ("flip_tx" in flip)
    assert not out.exists()


def test_a_board_with_another_design_and_a_missing_port_are_one_line(demo, tmp_path, capsys):
    from kgen.hdl.board_sim import simulated_board

    model, x = demo
    with simulated_board(plan_of(model)) as port:
        one_line_error(capsys, ["run", str(model), "--view", "board", "--port", port, "--steps", "5", "--inputs",
                                str(x), "-o", str(tmp_path / "y.npy")],
                       f"board at {port}: expected the design of demo at these steps and formats (design digest ")
    one_line_error(capsys, ["run", str(model), "--view", "board", "--steps", STEPS, "--inputs", str(x), "-o",
                            str(tmp_path / "y.npy")], "--port: expected the board's serial port")
    one_line_error(capsys, ["run", str(model), "--view", "board", "--port", str(tmp_path / "no-such-tty"),
                            "--steps", STEPS, "--inputs", str(x), "-o", str(tmp_path / "y.npy")],
                   f"--port {tmp_path / 'no-such-tty'}: expected a serial port that opens, found ")
    assert not (tmp_path / "y.npy").exists()

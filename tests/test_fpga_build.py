"""`kgen fpga build`: board bitstreams through amaranth's build system, and the twin's placed-and-routed figures.

The twomoon checkpoint (quantized as `kgen quantize` does, dt 0.005) at one
lane on the iCEBreaker (iCE40UP5K, 24 MHz from its 12 MHz oscillator through
the PLL) and the ULX3S 25F (ECP5, 50 MHz from 25 MHz): each must fit its
device and close timing at that clock after place and route (the pipelining
in update.py, tanh.py and the core's LOAD), with the cycles of the plan, and
is held to the baselines in fpga_baselines.json (LUTs or flip-flops up by
more than 10 %, or Fmax down by more than 10 %, fail until the baseline is
changed on purpose). The same inputs and seed give a byte-identical folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("amaranth")
pytest.importorskip("amaranth_boards")

from kgen.cli import main  # noqa: E402
from kgen.fsutil import MANIFEST  # noqa: E402
from kgen.hdl.fpga.boards import BOARDS  # noqa: E402
from kgen.hdl.fpga.tools import ECPPACK, ICEPACK, NEXTPNR_ECP5, NEXTPNR_ICE40  # noqa: E402
from kgen.hdl.tools import YOSYS  # noqa: E402
from kgen.tools import missing_reason  # noqa: E402

BASELINES = Path(__file__).with_name("fpga_baselines.json")
#: where each packer's bitstream carries its sync word (iCE40 7EAA997E; ECP5 preamble FFFFBDB3)
SYNC = {"icebreaker": b"\x7e\xaa\x99\x7e", "ulx3s": b"\xff\xff\xbd\xb3"}


def need(*tools):
    reason = missing_reason(*tools)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def twomoon(reference, tmp_path_factory):
    """The twomoon checkpoint quantized (formats chosen by kgen quantize, dt 0.005: 100 steps per window)."""
    path = tmp_path_factory.mktemp("fpga") / "twomoon.kgen"
    assert main(["quantize", str(reference / "twomoon"), "-o", str(path), "--samples", "200", "--ref-samples", "32",
                 "--eval-samples", "32", "--no-table", "--dt", "0.005"]) == 0
    return path


def check_against_baseline(doc: dict, key: str) -> None:
    base = json.loads(BASELINES.read_text())[key]
    for r in ("LUT", "FF"):
        assert doc["resources"][r]["used"] <= 1.10 * base[r], (
            f"{key}: {r} {doc['resources'][r]['used']} grew more than 10 % over the baseline {base[r]} "
            f"(update tests/fpga_baselines.json on purpose)")
    for r in ("DSP", "BRAM"):
        assert doc["resources"][r]["used"] <= base[r], f"{key}: {r} {doc['resources'][r]['used']} > {base[r]}"
    assert doc["timing"]["fmax_mhz"] >= 0.90 * base["fmax_mhz"], (
        f"{key}: Fmax {doc['timing']['fmax_mhz']:.2f} MHz dropped more than 10 % below {base['fmax_mhz']}")


def plan_cycles(model_path) -> int:
    from kgen.hdl.source import twin_plan
    from kgen.hdl.target import VerilogOptions
    from kgen.modelfile import load_model

    return twin_plan(load_model(model_path), VerilogOptions(lanes=1), debug=True).run_cycles()


def build(capsys, model, board: str, out: Path) -> dict:
    assert main(["fpga", "build", str(model), "--board", board, "--lanes", "1", "-o", str(out), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # the whole of stdout is the one document


def test_unknown_board_lists_the_known_ones(tmp_path, capsys):
    assert main(["example", "-o", str(tmp_path / "demo.kgen")]) == 0
    capsys.readouterr()
    assert main(["fpga", "build", str(tmp_path / "demo.kgen"), "--board", "tinyfpga", "-o",
                 str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["kgen: error: --board: expected one of " + ", ".join(BOARDS) + ", found 'tinyfpga'"]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("board,device,mhz", [("icebreaker", "up5k", 24.0), ("ulx3s", "ecp5-25k", 50.0)])
def test_twomoon_bitstream_fits_meets_its_clock_and_is_deterministic(twomoon, capsys, tmp_path, board, device,
                                                                     mhz):
    need(YOSYS, *((NEXTPNR_ICE40, ICEPACK) if board == "icebreaker" else (NEXTPNR_ECP5, ECPPACK)))
    doc = build(capsys, twomoon, board, tmp_path / "a")
    for name, r in doc["resources"].items():
        assert 0 <= r["used"] <= r["available"], name
    t = doc["timing"]
    assert t["requested_mhz"] == mhz and t["met"] is True and t["fmax_mhz"] >= mhz
    perf = doc["performance"]
    assert perf["cycles_per_inference"] == plan_cycles(twomoon)
    assert perf["latency_us"] == pytest.approx(perf["cycles_per_inference"] / t["fmax_mhz"])
    holds = {m["holds"] for m in doc["memories"]}
    assert {"lane 0 parameter ROM", "lane 0 kind 0 tanh table"} <= holds
    assert doc["tools"]["yosys"].startswith("Yosys ") and doc["seed"] == 1
    check_against_baseline(doc, f"twomoon/{device}/L1")
    folder = tmp_path / "a"
    bit = folder / Path(doc["board"]["bitstream"]).name
    assert SYNC[board] in bit.read_bytes()[:256]
    manifest = json.loads((folder / MANIFEST).read_text())
    assert (manifest["board"], manifest["seed"], manifest["clock_mhz"]) == (board, 1, mhz)
    assert manifest["files"][bit.name] == doc["board"]["sha256"]
    assert json.loads((folder / "report.json").read_text())["board"]["sha256"] == doc["board"]["sha256"]
    if board == "icebreaker":  # the whole chain again, same seed: the same bytes (once: a build is minutes)
        build(capsys, twomoon, board, tmp_path / "b")
        assert (tmp_path / "b" / MANIFEST).read_bytes() == (folder / MANIFEST).read_bytes()

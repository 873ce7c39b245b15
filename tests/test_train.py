"""Training: Kaiming init as the original, a digits classifier that learns, a flow whose NLL falls."""

import math

import numpy as np
import pytest

from kgen.cli import main
from kgen.datasets import digits, toy_samples
from kgen.evaluate import classify, flow_nll
from kgen.solver import Solver
from kgen.modelfile import load_model
from kgen.train import TrainConfig, kaiming_params, toy_flow_circuit, train_flow


def test_kaiming_std_uses_the_edge_count_as_fan_in():
    p = kaiming_params("ShiftTanh2", 20000, np.random.RandomState(0))
    assert p.shape == (3, 20000)
    assert p.std() == pytest.approx(math.sqrt(2 / 20000), rel=0.02)


@pytest.mark.slow
def test_digits_classifier_trains(tmp_path, capsys):
    out = tmp_path / "digits.kgen"
    assert main(["train", "--task", "digits", "--epochs", "8", "-o", str(out)]) == 0
    _, _, x, y = digits(0)
    res = classify(load_model(out).circuit, x, y, Solver(rtol=1e-5, atol=1e-5, dtype="float64"))
    assert res.value >= 0.95, res


def test_flow_training_lowers_the_nll():
    circuit = toy_flow_circuit("twomoon", seed=1)
    held = toy_samples("twomoon", 2000, seed=99)
    opts = Solver(rtol=1e-5, atol=1e-5, dtype="float64")
    before = flow_nll(circuit, held, opts).mean()
    cfg = TrainConfig(lr=1e-2, batch_size=256, seed=0, solver=Solver(method="rk4", steps=4))
    trained = train_flow(circuit, lambda n, it: toy_samples("twomoon", n, seed=it + 1), cfg, 40)
    after = flow_nll(trained, held, opts).mean()
    assert after < before - 0.2, (before, after)

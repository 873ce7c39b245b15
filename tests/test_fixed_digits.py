"""A digits classifier trained here, quantized, and run bit-exact: it must classify like the float model (slow)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgen.datasets import digits
from kgen.emulation.interp import Emulator
from kgen.emulation.quantize import QuantizeOptions, quantize
from kgen.model import KirchhoffNet, SolverOptions
from kgen.train import TrainConfig, digits_circuit, train_classifier


@pytest.mark.slow
def test_digits_classifier_agrees_with_the_float_model():
    x, y, xt, yt = digits(0)
    circuit = train_classifier(digits_circuit(0), x, y, TrainConfig(epochs=8))
    res = quantize(circuit, x, QuantizeOptions(ref_samples=128, eval_samples=128, table=False), say=lambda m: None)
    fixed = Emulator(res.program).run(xt)
    assert fixed.total_saturations == 0, fixed.summary()
    model = KirchhoffNet(circuit, torch.float64)
    with torch.no_grad():
        logits = model(torch.as_tensor(xt), SolverOptions(method="dopri5", rtol=1e-7, atol=1e-7,
                                                          dtype="float64")).numpy()
    agree = float(np.mean(fixed.outputs.argmax(1) == logits.argmax(1)))
    acc_fixed = float(np.mean(fixed.outputs.argmax(1) == yt))
    acc_float = float(np.mean(logits.argmax(1) == yt))
    print(f"digits: dt {res.step.dt:g}, read {res.config.read}, params {res.config.param_width} bits; "
          f"argmax agreement {100 * agree:.2f} %, accuracy fixed {100 * acc_fixed:.2f} % vs float "
          f"{100 * acc_float:.2f} % ({len(yt)} test images)")
    assert acc_float >= 0.9  # the classifier learned something
    assert agree >= 0.99
    assert abs(acc_fixed - acc_float) <= 0.005

"""A digits classifier trained here, quantized, and run bit-exact: it must classify like the float model (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from kgen.datasets import digits
from kgen.emulation.calibrate import dopri5_boundaries
from kgen.emulation.floatref import FloatEuler
from kgen.emulation.interp import Emulator
from kgen.emulation.quantize import QuantizeOptions, quantize
from kgen.train import TrainConfig, digits_circuit, train_classifier


@pytest.mark.slow
def test_digits_classifier_agrees_with_the_float_model():
    x, y, xt, yt = digits(0)
    circuit = train_classifier(digits_circuit(0), x, y, TrainConfig(epochs=8))
    # dt: the largest candidate whose float Euler agrees with dopri5 on >= 99.9 % of 512 training images
    res = quantize(circuit, x[:512], QuantizeOptions(ref_samples=512, eval_samples=128, table=False),
                   say=lambda m: None)
    fixed = Emulator(res.program).run(xt)
    assert fixed.total_saturations == 0, fixed.summary()
    euler, _ = FloatEuler(circuit).run(xt, res.config.steps)
    euler_top = euler[np.asarray(circuit.outputs) - 1].argmax(0)
    assert np.mean(fixed.outputs.argmax(1) == euler_top) >= 0.995  # the twin reproduces float Euler
    # the float model: dopri5 (scipy's RK45 on the NumPy right-hand side, checked against torchdiffeq in
    # test_fixed_calibrate)
    logits = dopri5_boundaries(circuit, xt, False)[-1][np.asarray(circuit.outputs) - 1].T
    agree = float(np.mean(fixed.outputs.argmax(1) == logits.argmax(1)))
    acc_fixed = float(np.mean(fixed.outputs.argmax(1) == yt))
    acc_float = float(np.mean(logits.argmax(1) == yt))
    print(f"digits: dt {res.step.dt:g}, read {res.config.read}, params {res.config.param_width} bits; "
          f"fixed vs float Euler argmax agreement {100 * np.mean(fixed.outputs.argmax(1) == euler_top):.2f} %; "
          f"vs float dopri5: argmax agreement {100 * agree:.2f} %, accuracy fixed {100 * acc_fixed:.2f} % vs float "
          f"{100 * acc_float:.2f} % ({len(yt)} test images)")
    assert acc_float >= 0.9  # the classifier learned something
    assert agree >= 0.99
    assert abs(acc_fixed - acc_float) <= 0.005

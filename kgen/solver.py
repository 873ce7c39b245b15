"""How a float run integrates: one settings object for the model's defaults, a run's flags and training.

A circuit stores the settings it was trained with (method, tolerances,
dtype); a run overrides any of them; training adds the adjoint. Fixed-step
methods take an exact number of steps per window (`steps`, one count for
every window or one per window) or a step size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .errors import InputError, expected_found

#: torchdiffeq's fixed-grid methods (every other method is adaptive)
FIXED_STEP = ("euler", "rk4", "midpoint", "explicit_adams", "implicit_adams")
#: torchdiffeq's adaptive methods
ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun", "scipy_solver")
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Solver:
    method: str = "dopri5"
    rtol: float = 1e-6
    atol: float = 1e-6
    dtype: str = "float32"
    steps: int | tuple[int, ...] | None = None  # fixed-step methods: steps in each window
    step_size: float | None = None  # fixed-step methods: or a step size
    adjoint: bool = False

    def __post_init__(self):
        if self.method not in FIXED_STEP + ADAPTIVE:
            raise InputError(expected_found("solver method", "one of " + ", ".join(FIXED_STEP + ADAPTIVE),
                                            repr(self.method)))
        for label, v in (("rtol", self.rtol), ("atol", self.atol)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
                raise InputError(expected_found(f"solver {label}", "a finite positive number", repr(v)))
        if self.dtype not in DTYPES:
            raise InputError(expected_found("solver dtype", " or ".join(DTYPES), repr(self.dtype)))
        if self.steps is not None:
            steps = (self.steps,) if isinstance(self.steps, int) else tuple(self.steps)
            if not steps or any(isinstance(s, bool) or int(s) != s or s < 1 for s in steps):
                raise InputError(expected_found("steps per window", "positive counts", repr(self.steps)))
            object.__setattr__(self, "steps", int(steps[0]) if isinstance(self.steps, int) else
                               tuple(int(s) for s in steps))
        if self.step_size is not None and not (math.isfinite(self.step_size) and self.step_size > 0):
            raise InputError(expected_found("step size", "a finite positive number", repr(self.step_size)))

    @property
    def fixed_step(self) -> bool:
        return self.method in FIXED_STEP

    def steps_in(self, window: int) -> int | None:
        """The step count of one window (None: not set)."""
        if self.steps is None:
            return None
        if isinstance(self.steps, int):
            return self.steps
        if window >= len(self.steps):
            raise InputError(expected_found("steps per window", f"a count for window {window}",
                                            f"{len(self.steps)} counts"))
        return self.steps[window]

    @property
    def torch_dtype(self):
        import torch

        return {"float32": torch.float32, "float64": torch.float64}[self.dtype]

    def override(self, **changes) -> Solver:
        """These settings with the given fields replaced; None leaves a field as it is."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        """The stored defaults (method, tolerances, dtype): what a model file records."""
        return {"method": self.method, "rtol": self.rtol, "atol": self.atol, "dtype": self.dtype}


#: The evaluation reference every comparison uses: tight float64 dopri5, whatever the model says.
REFERENCE = Solver(method="dopri5", rtol=1e-10, atol=1e-10, dtype="float64")

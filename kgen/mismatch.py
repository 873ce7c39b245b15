"""The one mismatch model: what device mismatch and capacitor tolerance do to a circuit.

Every learned scalar p (each parameter row a device kind uses, of every edge
in every window) becomes

    p' = p + sigma * max(|p|, p_ref) * eps

and every node capacitor C' = C * (1 + sigma_C * eps), each eps standard
normal. `p_ref` is an absolute floor: a parameter near zero (a threshold, a
bias) still moves, as a device's offset does whatever its nominal value.
Allocated rows a kind does not use are left alone (they are not devices).

Trial k draws its eps from `SeedSequence([seed, k])`, in a fixed order
(capacitors, then window by window the used rows edge by edge), so trial k is
the same perturbation wherever it is asked for: the float model, the SPICE and
Verilog-A netlists (which print the perturbed circuit), and training, which
draws a fresh trial per forward pass from the same formula (`perturb_values`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .circuit import Circuit, Window
from .devices import DEVICE_KINDS
from .errors import InputError, expected_found

#: the default absolute floor of the parameter spread (model units: parameters are O(0.01-1))
P_REF = 0.01


def _check_scale(value, flag: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InputError(expected_found(flag, "a finite number >= 0", str(value)))
    return float(value)


@dataclass(frozen=True)
class Mismatch:
    sigma: float  # relative spread of every learned scalar (--mismatch)
    cap_tolerance: float = 0.0  # relative spread of every node capacitor (--cap-tolerance)
    p_ref: float = P_REF  # absolute floor of the parameter spread (--p-ref)
    seed: int = 0  # trial k draws from SeedSequence([seed, k]) (--seed)

    def __post_init__(self):
        object.__setattr__(self, "sigma", _check_scale(self.sigma, "--mismatch"))
        object.__setattr__(self, "cap_tolerance", _check_scale(self.cap_tolerance, "--cap-tolerance"))
        object.__setattr__(self, "p_ref", _check_scale(self.p_ref, "--p-ref"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(expected_found("--seed", "an integer >= 0", str(self.seed)))
        if self.cap_tolerance >= 0.2:  # 5 sigma below -100 % is a negative capacitor once in ~3.5 million
            raise InputError(expected_found("--cap-tolerance", "a relative spread below 0.2",
                                            str(self.cap_tolerance)))

    def describe(self) -> str:
        caps = f", capacitors {self.cap_tolerance:g}" if self.cap_tolerance else ""
        return f"sigma {self.sigma:g} (p_ref {self.p_ref:g}){caps}, seed {self.seed}"

    def as_dict(self) -> dict:
        return {"sigma": self.sigma, "cap_tolerance": self.cap_tolerance, "p_ref": self.p_ref, "seed": self.seed}

    def rng(self, trial: int) -> np.random.Generator:
        if isinstance(trial, bool) or not isinstance(trial, int) or trial < 0:
            raise InputError(expected_found("trial", "an integer >= 0", str(trial)))
        return np.random.default_rng(np.random.SeedSequence([self.seed, trial]))

    def apply(self, circuit: Circuit, trial: int) -> Circuit:
        """The circuit of trial `trial`: every learned scalar and capacitor perturbed."""
        rng = self.rng(trial)
        eps_c = rng.standard_normal(circuit.n_nodes)
        caps = circuit.capacitance * (1.0 + self.cap_tolerance * eps_c)
        if np.any(caps <= 0):
            n = int(np.argmin(caps)) + 1
            raise InputError(expected_found(f"mismatch trial {trial}", "positive capacitors",
                                            f"{caps[n - 1]:g} at node {n}"))
        windows = []
        for w in circuit.windows:
            params = w.params.copy()
            kinds = circuit.edge_kind[w.edges]
            for k, name in enumerate(circuit.kinds):
                cols = np.flatnonzero(kinds == k)
                rows = list(DEVICE_KINDS[name].used_rows)
                if cols.size == 0 or not rows:
                    continue
                block = params[np.ix_(rows, cols)]
                eps = rng.standard_normal(block.shape)
                params[np.ix_(rows, cols)] = perturb_values(block, eps, self.sigma, self.p_ref)
            windows.append(Window(w.t_start, w.t_end, w.edges, params))
        return replace(circuit, capacitance=caps, windows=tuple(windows))


def perturb_values(p, eps, sigma: float, p_ref: float):
    """p + sigma * max(|p|, p_ref) * eps, elementwise, for NumPy arrays and torch tensors alike."""
    spread = abs(p)
    spread = spread.clip(min=p_ref) if hasattr(spread, "clip") else max(spread, p_ref)
    return p + sigma * spread * eps

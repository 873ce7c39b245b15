"""Forward time and a first-order energy estimate of one forward pass, from any view's waveforms.

The edge devices move charge Q = integral over the run of sum_e |i_e(t)| dt;
a device that sources its current from a supply VDD draws at least VDD * Q
from it, so `energy = vdd * Q` is a lower bound for such devices (it leaves
out bias currents, the supply's own losses and any charge recovered). The
currents are the device laws (kgen.devices, the same canonical form every
view prints) evaluated at the waveform's node voltages, so the figure comes
from the simulated waveforms themselves; the integral is the trapezoid rule
over the trace's own time points (a simulator's time steps, a fixed-step
view's steps). The float model's figure integrates its dopri5 trajectory on a
fine even grid instead, independently of any simulator.

In physical units (`--cap C_phys --tau tau`) currents scale by C_phys / tau
and times by tau, so Q scales by C_phys and the forward time is T * tau.
(The net power into the edges, sum_e i_e (v_src - v_des), is only the
capacitors' stored-energy change by Tellegen's theorem: a check, not an
estimate, and not reported.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .circuit import Circuit
from .devices import DEVICE_KINDS
from .errors import InputError, expected_found
from .layout import window_edges

#: the float model's integration grid: points per window (trapezoid error well below 1e-4 relative)
FLOAT_POINTS = 2000
#: node-voltage rows evaluated at once (bounds the (edges, rows x batch) arrays)
_ROW_BLOCK = 256


def check_vdd(vdd) -> float:
    if isinstance(vdd, bool) or not isinstance(vdd, (int, float)) or not (math.isfinite(vdd) and vdd > 0):
        raise InputError(expected_found("--vdd", "a finite positive supply voltage", str(vdd)))
    return float(vdd)


def check_energy_request(vdd, options) -> float:
    """--vdd before anything runs: a positive voltage, and a view that keeps every node's waveform."""
    save = getattr(options, "save", None)
    if save is not None and getattr(save, "value", save) != "all":
        raise InputError(expected_found("--vdd", "every node's voltage in the waveform (--save all)",
                                        f"--save {getattr(save, 'value', save)}"))
    return check_vdd(vdd)


def _abs_current_sum(circuit: Circuit, w: int, v: np.ndarray) -> np.ndarray:
    """sum_e |i_e| over window w's edges at states v (S, B, N): (S, B)."""
    lay = window_edges(circuit, w)
    s, b, n = v.shape
    out = np.zeros(s * b)
    for start in range(0, s, _ROW_BLOCK):
        block = v[start:start + _ROW_BLOCK]
        k = block.shape[0] * b
        vg = np.concatenate([np.zeros((1, k)), block.reshape(k, n).T], axis=0)  # (N + 1, k), ground row 0
        acc = np.zeros(k)
        for seg in lay.segments:
            sl = slice(seg.start, seg.stop)
            pc = seg.pieces
            z = pc["w_src"][:, None] * vg[lay.src[sl]] + pc["w_des"][:, None] * vg[lay.des[sl]] + pc["bias"][:, None]
            acc += np.abs(pc["scale"][:, None] * DEVICE_KINDS[seg.kind].activation.numpy(z)).sum(axis=0)
        out[start * b:start * b + k] = acc
    return out.reshape(s, b)


def edge_charge(circuit: Circuit, trace) -> np.ndarray:
    """(B,) the charge the edges move over the trace's run, model units: trapezoid over its time points."""
    recorded = set(trace.extra.get("recorded_nodes", range(1, circuit.n_nodes + 1)))
    if len(recorded) < circuit.n_nodes or not np.all(np.isfinite(trace.v)):
        raise InputError(expected_found("the edge charge", "every node's voltage in the waveform",
                                        "some nodes not saved"))
    if trace.n_steps <= len(circuit.windows) + 1:
        raise InputError(expected_found("--vdd", "a trace of every step or simulator time point",
                                        "the window boundaries only"))
    q = np.zeros(trace.v.shape[1])
    for w in range(len(circuit.windows)):
        rows = np.flatnonzero(trace.window == w)
        if rows.size == 0:
            continue
        if rows[0] > 0 and trace.window[rows[0] - 1] != w:
            rows = np.concatenate([[rows[0] - 1], rows])  # the window starts where the previous one ended
        i_abs = _abs_current_sum(circuit, w, trace.v[rows])
        dt = np.abs(np.diff(trace.t[rows]))[:, None]
        q += np.sum(0.5 * (i_abs[1:] + i_abs[:-1]) * dt, axis=0)
    return q


def float_charge(model, x: np.ndarray, reverse: bool = False, points: int = FLOAT_POINTS) -> np.ndarray:
    """(B,) the float reference's edge charge (dopri5 at 1e-10 on `points` even times per window)."""
    from .float_view import reference_at

    c = model.circuit
    per = {}
    for w, win in enumerate(c.windows):
        t = win.t_start + (win.t_end - win.t_start) * np.arange(1, points) / points
        per[w] = list(t[::-1] if reverse else t)
    return edge_charge(c, reference_at(model, x, per, reverse))


@dataclass(frozen=True)
class Energy:
    """Per input: the charge the edges move and the energy a supply at `vdd` gives at least."""

    vdd: float  # volts
    cap: float  # farads per model capacitance unit (1: model units)
    tau: float  # seconds per model time unit (1: model units)
    forward_time: float  # seconds (model time units when tau = 1)
    charge: tuple[float, ...]  # coulombs per input (model units x cap)
    reference_charge: tuple[float, ...] | None = None  # the float model's, same units

    @property
    def energy(self) -> tuple[float, ...]:
        return tuple(self.vdd * q for q in self.charge)

    @property
    def max_relative_difference(self) -> float | None:
        if self.reference_charge is None:
            return None
        a, b = np.asarray(self.charge), np.asarray(self.reference_charge)
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    def as_dict(self) -> dict:
        out = {"vdd": self.vdd, "cap": self.cap, "tau": self.tau, "forward_time": self.forward_time,
               "charge": list(self.charge), "energy": list(self.energy),
               "mean_energy": float(np.mean(self.energy)), "lower_bound": True}
        if self.reference_charge is not None:
            out["reference_charge"] = list(self.reference_charge)
            out["max_relative_difference"] = self.max_relative_difference
        return out

    def summary(self) -> str:
        unit = "J" if self.cap != 1.0 or self.tau != 1.0 else "model units"
        text = (f"forward time {self.forward_time:.4g} {'s' if self.tau != 1.0 else 'time units'}, energy >= "
                f"{np.mean(self.energy):.4g} {unit} per input at VDD {self.vdd:g} V (mean over "
                f"{len(self.charge)}; charge the edges move x VDD)")
        if self.reference_charge is not None:
            text += f"; the float model's charge differs by {self.max_relative_difference:.2g} (relative)"
        return text


def energy_of(model, trace, vdd: float, cap: float = 1.0, tau: float = 1.0, reference_charge=None) -> Energy:
    c = model.circuit
    span = abs(c.t_final - c.windows[0].t_start)
    q = edge_charge(c, trace) * cap
    ref = None if reference_charge is None else tuple(float(v) * cap for v in reference_charge)
    return Energy(check_vdd(vdd), cap, tau, span * tau, tuple(float(v) for v in q), ref)

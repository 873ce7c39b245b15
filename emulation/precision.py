"""Precision: the fixed-point error of a configuration, and the word-width searches.

The error of a configuration is measured against float Euler at the same
step (both from the same inputs): per input, the max over nodes and window
boundaries of |X - u|; the max, p99 and mean over inputs are reported.
Parameter bits are chosen first, with a generous read word, so parameter
quantisation stays below a quarter of the target; the read word is then the
narrowest whose error stays below half the target (the rest is margin for
inputs outside the calibration set).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kgen.circuit import Circuit
from kgen.errors import UnsupportedError

from .calibrate import boundary_steps, sample_errors
from kgen.quant import QuantConfig
from .floatref import FloatEuler
from .interp import Emulator
from .lower import lower
from kgen.qformat import QFormat


@dataclass(frozen=True)
class Measure:
    max: float
    p99: float
    mean: float
    saturations: int
    overflows: int
    note: str = ""  # e.g. "too wide" when the configuration does not lower

    @property
    def ok(self) -> bool:
        return not self.note and self.saturations == 0 and self.overflows == 0


def state_formats(int_bits: int, read_width: int, integrator_width: int, base: QFormat, base_i: QFormat):
    read = QFormat(True, int_bits, read_width - int_bits, base.rounding, base.overflow)
    integ = QFormat(True, int_bits, integrator_width - int_bits, base_i.rounding, base_i.overflow)
    return read, integ


class ErrorProbe:
    """Float Euler boundary states for one input set and step choice, reused across configurations."""

    def __init__(self, circuit: Circuit, x: np.ndarray, steps: tuple[int, ...], reverse: bool, threads=None):
        self.circuit, self.x, self.steps, self.reverse, self.threads = circuit, x, steps, reverse, threads
        self.marks = boundary_steps(steps, reverse)
        _, self.u = FloatEuler(circuit).run(x, steps, reverse, marks=self.marks)

    def measure(self, cfg: QuantConfig) -> Measure:
        """The error of cfg on the probe's inputs; the program and run stay in `last` for reuse."""
        self.last = None
        try:
            prog = lower(self.circuit, cfg.with_steps(self.steps), reverse=self.reverse)
        except UnsupportedError as exc:
            return Measure(np.inf, np.inf, np.inf, 0, 0, f"too wide ({str(exc).split(':')[0]})")
        r = Emulator(prog, threads=self.threads).run(self.x, marks=self.marks)
        self.last = (prog, r)
        err = sample_errors(prog.integrator.values(r.states), self.u)
        return Measure(float(err.max()), float(np.quantile(err, 0.99)), float(err.mean()), r.total_saturations,
                       r.total_overflows)


def with_width(cfg: QuantConfig, int_bits: int, read_width: int, integrator_width: int) -> QuantConfig:
    read, integ = state_formats(int_bits, read_width, integrator_width, cfg.read, cfg.integrator)
    return replace(cfg, read=read, integrator=integ)


def search_param_width(probe: ErrorProbe, cfg: QuantConfig, int_bits: int, integrator_width: int, budget: float,
                       ladder=(16, 18, 20, 22, 24)) -> tuple[int, list[tuple[int, Measure]]]:
    """Narrowest parameter width whose error, with a wide read word, stays within budget."""
    wide = with_width(cfg, int_bits, min(integrator_width - 4, 26), integrator_width)
    tried = []
    for width in ladder:
        m = probe.measure(replace(wide, param_width=width))
        tried.append((width, m))
        if m.ok and m.max <= budget:
            return width, tried
    return _fallback(tried, ladder), tried


def _fallback(tried, ladder) -> int:
    """No width met the budget: the most accurate one without saturation, else the most accurate one that
    lowers at all, else the narrowest."""
    for usable in ([(w, m) for w, m in tried if m.ok], [(w, m) for w, m in tried if not m.note]):
        if usable:
            return min(usable, key=lambda wm: (wm[1].max, wm[0]))[0]
    return min(ladder)


def search_read_width(probe: ErrorProbe, cfg: QuantConfig, int_bits: int, integrator_width: int, budget: float,
                      ladder) -> tuple[int, list[tuple[int, Measure]]]:
    """Narrowest read width whose error stays within budget."""
    tried = []
    for width in sorted(ladder):
        if width >= integrator_width or width <= int_bits:
            continue
        m = probe.measure(with_width(cfg, int_bits, width, integrator_width))
        tried.append((width, m))
        if m.ok and m.max <= budget:
            return width, tried
    return _fallback(tried, [w for w, _ in tried] or list(ladder)), tried


@dataclass(frozen=True)
class TableCell:
    dt: float
    read_width: int
    measure: Measure


def accuracy_table(circuit: Circuit, x: np.ndarray, reverse: bool, cfg: QuantConfig, int_bits: int,
                   integrator_width: int, dts, widths, steps_of, threads=None) -> list[TableCell]:
    from kgen.progress import bar

    cells = []
    usable = [w for w in widths if int_bits < w < integrator_width]
    with bar(len(dts) * len(usable), "quantize: accuracy table", "cell") as progress:
        for dt in dts:
            probe = ErrorProbe(circuit, x, steps_of(dt), reverse, threads)
            for width in usable:
                cells.append(TableCell(dt, width, probe.measure(with_width(cfg, int_bits, width, integrator_width))))
                progress.update(1)
    return cells

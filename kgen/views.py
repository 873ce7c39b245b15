"""Views: the interchangeable ways to run a model (float, spice, veriloga, fixed, rtl, ...).

A view is a plugin (kgen.plugins.VIEWS, entry-point group `kgen.views`) with a
name, an options dataclass whose fields make its flags, and

    run(model, x, options, record) -> Trace

on data x (batch, n_data). Every view returns the same Trace: at least every
window boundary and the final time; with `record=Record.STEPS` also every
step where the view steps, or the simulator's time points where it has them.
`kgen verify` compares a view's trace with its reference's (`reference`: the
float model, or the bit-exact model for the RTL) through kgen.compare, the
code `kgen diff` runs.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import ClassVar

from .errors import InputError, expected_found
from .options import options_of


class Record(enum.Enum):
    """How much of a run its trace keeps."""

    BOUNDARIES = "boundaries"  # the start, every window boundary, the final time
    STEPS = "steps"  # also every solver step or simulator time point


class View(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    Options: ClassVar[type]
    #: the view `kgen verify` compares this one with: "float" (the float reference) or another view's name
    reference: ClassVar[str] = "float"

    def options(self, **kwargs):
        """This view's options from Python keywords (the same validation as its flags)."""
        return options_of(self.Options, **kwargs)

    def reference_options(self, model, options) -> dict:
        """Keywords for the reference view's options (e.g. the same step counts), when it is a view."""
        return {}

    @abstractmethod
    def run(self, model, x, options, record: Record = Record.BOUNDARIES):
        """The model's trace on data x (batch, n_data) float64."""


def run_view(view: View, model, x, options, record: Record = Record.BOUNDARIES):
    """Run a view on checked data and hold its trace to the protocol (shape, times, finite outputs)."""
    import numpy as np

    from .layout import check_data

    x = check_data(model.circuit, x)
    trace = view.run(model, x, options, record)
    c = model.circuit
    if trace.v.shape[1:] != (x.shape[0], c.n_nodes) or trace.n_steps < len(c.windows) + 1:
        raise InputError(expected_found(f"{view.name} view's trace",
                                        f"states (>= {len(c.windows) + 1}, {x.shape[0]}, {c.n_nodes})",
                                        str(trace.v.shape)))
    final = trace.v[-1]
    recorded = np.zeros(c.n_nodes, bool)  # a view that saves some nodes only names them in extra
    recorded[np.asarray(trace.extra.get("recorded_nodes", range(1, c.n_nodes + 1)), np.int64) - 1] = True
    bad = recorded[None, :] & ~np.isfinite(final)
    if bad.any():
        b, n = (int(i) for i in np.argwhere(bad)[0])
        raise InputError(expected_found(f"{view.name} view's final state", "finite node voltages",
                                        f"{final[b, n]} at node {n + 1} of input {b} (the voltages grow without "
                                        "bound on these inputs)"))
    return trace

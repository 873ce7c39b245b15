"""An example kgen plugin: the `hold` view (the state held at its initial value, scaled) and the `card` target.

Nothing here imports kgen's internals beyond the public protocols: View, Target, option, Record, Trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kgen.errors import InputError, expected_found
from kgen.layout import initial_state
from kgen.options import option
from kgen.targets import Target
from kgen.trace import float_trace
from kgen.views import Record, View


@dataclass(frozen=True)
class HoldOptions:
    title = "hold view"
    gain: float = option(1.0, help="factor applied to every node voltage")

    def __post_init__(self):
        if not self.gain > 0:
            raise InputError(expected_found("--gain", "a positive factor", repr(self.gain)))


class HoldView(View):
    name = "hold"
    description = "every node keeps its initial voltage times --gain (an example plugin)"
    Options = HoldOptions

    def run(self, model, x, options, record=Record.BOUNDARIES):
        c = model.circuit
        v0 = initial_state(c, x) * options.gain  # (B, N)
        times = np.asarray(c.times)
        states = np.repeat(v0.T[None], len(times), axis=0)  # (S, N, B)
        windows = np.asarray([0] + list(range(len(c.windows))))
        return float_trace(times, states, windows, "hold", model.digest, False)


@dataclass(frozen=True)
class CardOptions:
    title = "card target"
    heading: str = option("model card", help="the card's first line")


class CardTarget(Target):
    name = "card"
    description = "a one-file text card of the model (an example plugin)"
    Options = CardOptions

    def generate(self, model, folder, options):
        c = model.circuit
        (folder / "card.txt").write_text(f"{options.heading}\n{c.name}: {c.n_nodes} nodes, {c.n_edges} edges, "
                                         f"digest {model.digest}\n")
        return ["card.txt"]


HOLD_VIEW = HoldView()
CARD_TARGET = CardTarget()

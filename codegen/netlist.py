"""The netlist context both analog writers render from, and its element stream.

`netlist_context` builds, once per netlist, everything the SPICE and the
Verilog-A top levels share: node names, the capacitor lines, the initial
conditions, the saved nodes, the breakpoint (PWL) corners and the transient
setup, with the header lines. Each writer adds only its dialect's pieces (the
B-source currents, the module instances) and its template.

One element per edge carries all its window parameter sets (None where the
edge is inactive in a window). Several inputs go into one netlist as disjoint
copies of the circuit: node n of copy b is `n{n}_{b}` (just `n{n}` when there
is one copy), ground is `0`. Elements are yielded lazily in ascending edge
order, so a 230k-edge netlist streams in bounded memory.
"""

from __future__ import annotations

import operator
import re
from collections import namedtuple
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from kgen.errors import UnsupportedError, expected_found

from .analog import Accuracy, Save, Schedule, TransientSetup, Units, header_details, transient_setup
from .numfmt import check_finite, num

if TYPE_CHECKING:
    from kgen.circuit import Circuit


def node_name(node: int, copy: int, copies: int) -> str:
    if node == 0:
        return "0"
    return f"n{node}" if copies == 1 else f"n{node}_{copy}"


def copy_suffix(copy: int, copies: int) -> str:
    return "" if copies == 1 else f"_{copy}"


_NOT_IDENT = re.compile(r"[^a-z0-9_]+")


def identifier(name: str) -> str:
    """A lower-case identifier safe in every netlist language and file system (SPICE is case-blind)."""
    return "kg_" + _NOT_IDENT.sub("_", name.lower()).strip("_")


def kind_identifiers(kinds: tuple[str, ...]) -> dict[str, str]:
    """Identifiers of device kinds; two kinds that sanitise to the same one are refused."""
    seen: dict[str, str] = {}
    for kind in kinds:
        ident = identifier(kind)
        if ident in seen:
            raise UnsupportedError(expected_found(
                f"device kind names {seen[ident]!r} and {kind!r}", "distinct names after sanitising",
                f"both as {ident!r}"))
        seen[ident] = kind
    return {kind: ident for ident, kind in seen.items()}


def safe_title(text: str) -> str:
    """A circuit name as one printable line (it lands in titles and comments)."""
    return re.sub(r"[^\x20-\x7e]", "?", text)[:200] or "circuit"


@dataclass(frozen=True)
class Element:
    edge: int
    kind: str
    src: int
    des: int
    params: tuple[tuple[float, ...] | None, ...]  # per schedule window: used parameters, or None (inactive)


def kinds_in(circuit: Circuit, schedule: Schedule) -> tuple[str, ...]:
    """Device kinds with at least one edge active in the schedule, in circuit order."""
    used = set()
    for w in schedule.windows:
        used.update(np.unique(circuit.edge_kind[circuit.windows[w].edges]).tolist())
    return tuple(circuit.kinds[k] for k in range(len(circuit.kinds)) if k in used)


def elements(circuit: Circuit, schedule: Schedule) -> Iterator[Element]:
    """Every edge active somewhere in the schedule, with its per-window parameter sets."""
    from kgen.devices import DEVICE_KINDS

    n_edges = circuit.n_edges
    columns, tables = [], []
    rows_of = {k: DEVICE_KINDS[name].used_rows for k, name in enumerate(circuit.kinds)}
    for w in schedule.windows:
        win = circuit.windows[w]
        check_finite(win.params, f"window {w} parameters")
        col = np.full(n_edges, -1, dtype=np.int64)
        col[win.edges] = np.arange(win.edges.size)
        columns.append(col)
        tables.append(win.params.T.tolist())  # Python floats, one row per active edge
    active = np.zeros(n_edges, dtype=bool)
    for col in columns:
        active |= col >= 0
    src, des, kind = circuit.src.tolist(), circuit.des.tolist(), circuit.edge_kind.tolist()
    cols = [c.tolist() for c in columns]
    pick = {k: _picker(rows) for k, rows in rows_of.items()}
    names = circuit.kinds
    for e in np.flatnonzero(active).tolist():
        get = pick[kind[e]]
        sets = tuple(None if col[e] < 0 else get(table[col[e]]) for col, table in zip(cols, tables))
        yield Element(e, names[kind[e]], src[e], des[e], sets)


def _picker(rows: tuple[int, ...]):
    """row list -> the tuple of its entries at `rows` (fast: this runs once per edge and window)."""
    if len(rows) == 1:
        r = rows[0]
        return lambda row: (row[r],)
    if not rows:
        return lambda row: ()
    return operator.itemgetter(*rows)


CapLine = namedtuple("CapLine", "name node value")
NodeValue = namedtuple("NodeValue", "node value")
#: what a writer returns: the files it wrote (the netlist last) and the context it rendered
WrittenNetlist = namedtuple("WrittenNetlist", "files context")


@dataclass(frozen=True, eq=False)
class NetlistContext:
    """What one netlist (B copies of the circuit over one schedule) prints besides its edges."""

    circuit: Circuit
    schedule: Schedule
    setup: TransientSetup
    units: Units
    accuracy: Accuracy
    copies: int
    title: str
    digest: str
    details: list[str]
    kinds: tuple[str, ...]  # device kinds active in the schedule, in circuit order
    idents: dict[str, str]  # kind -> identifier (refused when two collide)
    caps_text: tuple[str, ...]  # per node, farads
    ics_text: tuple[tuple[str, ...], ...]  # per copy, per node: volts at the start
    saved: tuple[int, ...]  # nodes whose voltages the waveform keeps
    save: Save

    def node(self, n: int, copy: int) -> str:
        return node_name(n, copy, self.copies)

    def suffix(self, copy: int) -> str:
        return copy_suffix(copy, self.copies)

    @property
    def nodes(self) -> range:
        return range(1, self.circuit.n_nodes + 1)

    def elements(self) -> Iterator[Element]:
        return elements(self.circuit, self.schedule)

    def capacitors(self) -> list[CapLine]:
        return [CapLine(f"c{n}{self.suffix(b)}", self.node(n, b), self.caps_text[n - 1])
                for b in range(self.copies) for n in self.nodes]

    def ics(self) -> list[NodeValue]:
        return [NodeValue(self.node(n, b), self.ics_text[b][n - 1]) for b in range(self.copies) for n in self.nodes]

    def saves(self) -> list[str]:
        return [self.node(n, b) for b in range(self.copies) for n in self.saved]

    def pwl(self) -> list[tuple[str, str]]:
        """The breakpoint source's corners as (time, value) text."""
        return [(num(t), num(v)) for t, v in self.setup.pwl_values]

    def switch_text(self) -> list[str]:
        return [num(t, "switch time") for t in self.setup.switch]

    def switch_width(self) -> str:
        """delta, the switch's offset after each boundary (seconds): also the ramp-in time of an edge
        that switches on at a node left at rest (see `resting_nodes`)."""
        return num(self.setup.delta, "switch offset")

    def resting_nodes(self) -> list[frozenset[int]]:
        """Per schedule window, the nodes no active edge touches there: their voltage stays put."""
        c = self.circuit
        every = frozenset(range(1, c.n_nodes + 1))
        out = []
        for w in self.schedule.windows:
            win = c.windows[w]
            out.append(every - frozenset(c.src[win.edges].tolist()) - frozenset(c.des[win.edges].tolist()))
        return out

    def template_context(self) -> dict:
        """The template variables both writers pass alike."""
        from kgen import __version__

        return {"version": __version__, "name": self.title, "digest": self.digest, "details": self.details,
                "capacitors": self.capacitors(), "ics": self.ics(), "saves": self.saves(),
                "setup": self.setup.text()}


def netlist_context(circuit: Circuit, units: Units, accuracy: Accuracy, save: Save, initial: np.ndarray,
                    schedule: Schedule, target: str) -> NetlistContext:
    """The shared context of one netlist: B copies for the B rows of `initial` ((B, N) volts)."""
    setup = transient_setup(circuit, schedule, units, accuracy)
    kinds = kinds_in(circuit, schedule)
    idents = kind_identifiers(kinds)
    initial = np.asarray(initial, dtype=np.float64)
    copies = initial.shape[0]
    caps = circuit.capacitance * units.cap
    check_finite(caps, "node capacitances in farads")
    check_finite(initial, "initial node voltages")
    return NetlistContext(
        circuit=circuit, schedule=schedule, setup=setup, units=units, accuracy=accuracy, copies=copies,
        title=safe_title(circuit.name), digest=circuit.digest,
        details=header_details(circuit, units, accuracy, schedule, copies, target), kinds=kinds, idents=idents,
        caps_text=tuple(num(c, "capacitance") for c in caps),
        ics_text=tuple(tuple(num(v, "initial voltage") for v in row) for row in initial.tolist()),
        saved=tuple(range(1, circuit.n_nodes + 1)) if save is Save.ALL else tuple(circuit.outputs), save=save)

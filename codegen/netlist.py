"""The element stream every analog netlist is written from.

One element per edge carries all its window parameter sets (None where the
edge is inactive in a window). Several inputs go into one netlist as disjoint
copies of the circuit: node n of copy b is `n{n}_{b}` (just `n{n}` when there
is one copy), ground is `0`. Elements are yielded lazily in ascending edge
order, so a 230k-edge netlist streams in bounded memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from kgen.circuit import Circuit
from kgen.errors import UnsupportedError, expected_found

from .analog import Schedule
from .numfmt import check_finite
from .printers import used_rows


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
    n_edges = circuit.n_edges
    columns, tables = [], []
    rows_of = {k: used_rows(name) for k, name in enumerate(circuit.kinds)}
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
    for e in np.flatnonzero(active).tolist():
        rows = rows_of[kind[e]]
        sets = []
        for col, table in zip(cols, tables):
            c = col[e]
            sets.append(None if c < 0 else tuple(table[c][r] for r in rows))
        yield Element(e, circuit.kinds[kind[e]], src[e], des[e], tuple(sets))

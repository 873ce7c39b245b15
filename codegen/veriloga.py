"""`--target veriloga`: one behavioural Verilog-A module per device kind, and a top-level netlist.

A module `kg_<kind>_w<W>` has two electrical terminals (src, des) and, for
each of the W windows, an `on_w<k>` gate and the kind's used parameters
`p<r>_w<k>`, all instance parameters (`(* type="instance" *)`), so one
element per edge carries every window's parameter set. The module selects the
set with `$abstime < tsw<k>` (t_k + delta; the netlist's PWL source puts a
breakpoint on every boundary) and contributes `I(src, des) <+ iscale * i`
with i printed from the device library; an inactive edge contributes 0
explicitly. The top level is a VACASK netlist (`--dialect vacask`, runnable
here) or a Spectre one (`--dialect spectre`, `ahdl_include`, golden text).
"""

from __future__ import annotations

import argparse
import enum
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from kgen import __version__
from kgen.circuit import Circuit
from kgen.devices import DEVICE_KINDS, V_DES, V_SRC
from kgen.modelfile import circuit_digest

from . import environment
from .analog import (VERILOGA_ACCURACY, Accuracy, AnalogOptions, Save, Schedule, add_analog_arguments, analog_from_args,
                     analog_target, capacitances, enum_option, header_details, setup_text, transient_setup)
from .netlist import copy_suffix, elements, kind_identifiers, kinds_in, node_name, safe_title
from .numfmt import num
from .printers import VerilogAPrinter, device_text, used_params, used_rows


class VerilogADialect(enum.Enum):
    VACASK = "vacask"
    SPECTRE = "spectre"


@dataclass(frozen=True)
class _DialectSpec:
    template: str
    filename: str


DIALECTS = {
    VerilogADialect.VACASK: _DialectSpec("veriloga/vacask.sim.j2", "netlist.sim"),
    VerilogADialect.SPECTRE: _DialectSpec("veriloga/spectre.scs.j2", "netlist.scs"),
}


@dataclass(frozen=True, eq=False)
class VerilogAOptions(AnalogOptions):
    accuracy: Accuracy = VERILOGA_ACCURACY
    dialect: VerilogADialect = VerilogADialect.VACASK


Param = namedtuple("Param", "name type default")
WindowBlock = namedtuple("WindowBlock", "head on assign")
Assign = namedtuple("Assign", "local param")
Instance = namedtuple("Instance", "name src des model params")
CapLine = namedtuple("CapLine", "name node value")
NodeValue = namedtuple("NodeValue", "node value")


def module_name(ident: str, n_windows: int) -> str:
    return f"{ident}_w{n_windows}"


def module_context(kind: str, ident: str, switch: tuple[float, ...], current_scale: float) -> dict:
    """Template context of one device module: len(switch) + 1 windows, switching at the `switch` times."""
    n_windows = len(switch) + 1
    params = used_params(kind)
    symbols = {V_SRC: "V(src)", V_DES: "V(des)", **{p: p.name for p in DEVICE_KINDS[kind].params}}
    current = device_text(VerilogAPrinter, kind, symbols, "Verilog-A")
    instance = []
    blocks = []
    for w in range(n_windows):
        instance.append(Param(f"on_w{w}", "integer", "0"))
        instance += [Param(f"{p.name}_w{w}", "real", "0.0") for p in params]
        if n_windows == 1:
            head = "begin"
        elif w == 0:
            head = f"if ($abstime < tsw{w + 1}) begin"
        elif w < n_windows - 1:
            head = f"end else if ($abstime < tsw{w + 1}) begin"
        else:
            head = "end else begin"
        blocks.append(WindowBlock(head, f"on_w{w}", [Assign(p.name, f"{p.name}_w{w}") for p in params]))
    model = [Param(f"tsw{k + 1}", "real", num(t, "switch time")) for k, t in enumerate(switch)]
    model.append(Param("iscale", "real", num(current_scale, "current scale")))
    return {
        "module": module_name(ident, n_windows), "kind": kind, "doc": DEVICE_KINDS[kind].doc,
        "instance_params": instance, "model_params": model,
        "locals": [p.name for p in params] or ["unused"], "windows": blocks, "current": current,
    }


def write_module(folder: Path, kind: str, ident: str, switch: tuple[float, ...], current_scale: float,
                 header: dict) -> str:
    """Write `<module>.va` for one device kind; returns the module name."""
    ctx = module_context(kind, ident, switch, current_scale)
    environment.write(folder / f"{ctx['module']}.va", "veriloga/device.va.j2", comment="//", version=__version__,
                      **header, **ctx)
    return ctx["module"]


def instance_params(element, rows: tuple[int, ...]) -> str:
    """`on_w<k>=1 p<r>_w<k>=...` for every window the edge is active in (inactive: on_w<k> stays 0)."""
    parts = []
    for w, values in enumerate(element.params):
        if values is None:
            continue
        parts.append(f"on_w{w}=1")
        parts += [f"p{r}_w{w}={v!r}" for r, v in zip(rows, values)]
    return " ".join(parts)


def write_veriloga(circuit: Circuit, options: VerilogAOptions, folder: Path, initial: np.ndarray,
                   schedule: Schedule, name: str | None = None, digest: str | None = None,
                   loads: dict[str, str] | None = None) -> list[str]:
    """Write the device modules and one top-level netlist (B copies for the B rows of `initial`).

    `loads` maps a module file name to the path the netlist should load instead
    (the runner passes compiled .osdi files)."""
    spec = DIALECTS[options.dialect]
    setup = transient_setup(circuit, schedule, options.units, options.accuracy)
    kinds = kinds_in(circuit, schedule)
    idents = kind_identifiers(kinds)
    digest = digest or circuit_digest(circuit)
    title = safe_title(circuit.name)
    copies = initial.shape[0]
    details = header_details(circuit, options.units, options.accuracy, schedule, copies,
                             f"veriloga ({options.dialect.value})")
    files = []
    modules = {}
    for kind in kinds:
        module = write_module(folder, kind, idents[kind], setup.switch, setup.current_scale,
                              header={"name": title, "digest": digest, "details": [details[1]]})
        files.append(f"{module}.va")
        modules[kind] = module

    def instances() -> Iterator[Instance]:
        rows = {k: used_rows(k) for k in kinds}
        for el in elements(circuit, schedule):
            params = instance_params(el, rows[el.kind])
            for b in range(copies):
                yield Instance(f"e{el.edge}{copy_suffix(b, copies)}", node_name(el.src, b, copies),
                               node_name(el.des, b, copies), modules[el.kind], params)

    nodes = range(1, circuit.n_nodes + 1)
    saved = nodes if options.save is Save.ALL else circuit.outputs
    caps_text = [num(c, "capacitance") for c in capacitances(circuit, options.units)]
    netlist = name or spec.filename
    loads = loads or {}
    environment.write(
        folder / netlist, spec.template,
        comment="//", version=__version__, name=title, digest=digest, details=details,
        loads=[loads.get(f, f) for f in files], models=sorted(set(modules.values())),
        pwl=[(num(t), num(v)) for t, v in setup.pwl_values],
        instances=instances(),
        capacitors=(CapLine(f"c{n}{copy_suffix(b, copies)}", node_name(n, b, copies), caps_text[n - 1])
                    for b in range(copies) for n in nodes),
        ics=[NodeValue(node_name(n, b, copies), num(initial[b, n - 1], "initial voltage"))
             for b in range(copies) for n in nodes],
        saves=[node_name(n, b, copies) for b in range(copies) for n in saved],
        save_all=options.save is Save.ALL,
        setup=setup_text(setup),
    )
    return files + [netlist]


# -- the target plugin ----------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dialect", default="vacask", help="vacask (runnable here, default) or spectre "
                                                      "(ahdl_include; golden text only)")
    add_analog_arguments(p, "VACASK")


def options_from_args(a: argparse.Namespace) -> VerilogAOptions:
    dialect = enum_option(VerilogADialect, a.dialect, "--dialect")
    return VerilogAOptions(dialect=dialect, **analog_from_args(a, runnable=dialect is VerilogADialect.VACASK))


TARGET = analog_target(
    "veriloga", "Verilog-A device modules and a top-level netlist (VACASK runnable; spectre golden text)",
    add_arguments, options_from_args, write_veriloga)

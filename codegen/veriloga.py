"""`--target veriloga`: one behavioural Verilog-A module per device kind, and a top-level netlist.

A module `kg_<kind>_w<W>` has two electrical terminals (src, des) and, for
each of the W windows, an `on_w<k>` gate and the kind's used parameters
`p<r>_w<k>`, all instance parameters (`(* type="instance" *)`), so one
element per edge carries every window's parameter set. The module selects the
set with `$abstime < tsw<k>` (t_k + delta; the netlist's PWL source puts a
breakpoint on every boundary) and contributes `I(src, des) <+ iscale * i`
with i printed from the device library; an inactive edge contributes 0
explicitly. The top level is a VACASK netlist (`--dialect vacask`, runnable
here: `VacaskSimulator`, the modules compiled once per run by openvaf-r) or a
Spectre one (`--dialect spectre`, `ahdl_include`, golden text).
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Iterator

import numpy as np

from kgen.options import option

from .analog import VERILOGA_ACCURACY, Accuracy, Save, Schedule
from .netlist import NetlistContext, WrittenNetlist, copy_suffix, netlist_context, node_name
from .numfmt import num
from .simulator import Simulator, run_logged
from .target import AnalogTarget, AnalogTargetOptions, Dialect
from .tools import OPENVAF, VACASK

if TYPE_CHECKING:
    from kgen.circuit import Circuit


class VacaskSimulator(Simulator):
    name = "vacask"
    label = "VACASK"
    tool = VACASK
    raw_name = "tran1.raw"
    spread_copies = True  # compiled models scale linearly with the copies in one netlist

    def compile(self, job) -> dict[str, str]:
        """openvaf-r on every schedule's modules, once per run; the netlists load the .osdi files."""
        compiler = OPENVAF.find()
        folder = job.work / "modules"
        folder.mkdir()
        loads: dict[str, str] = {}
        zero = np.zeros((1, job.circuit.n_nodes))
        for schedule in job.schedules:
            ctx = context(job.circuit, job.options, zero, schedule)
            for va in write_modules(ctx, folder)[0]:
                if va in loads:
                    continue
                osdi = folder / (va[:-3] + ".osdi")
                run_logged([str(compiler), va, "-o", osdi.name], folder, folder / f"{va[:-3]}.log", "openvaf-r")
                loads[va] = str(osdi.resolve())
        return loads

    def command(self, executable: Path, netlist: str) -> list[str]:
        return [str(executable), netlist]

    def variable(self, node: str) -> str:
        return node

    def profile(self, log: str) -> dict[str, float]:
        """The netlist's `print stats` (after its analysis) as kgen names it: device evaluation, the Newton
        solver, LU refactorisation and solves, time points."""
        found = {}
        for line in log.splitlines():
            name, sep, value = line.strip().partition(":")
            if sep and name in VACASK_STATS:
                try:
                    found[VACASK_STATS[name]] = float(value)
                except ValueError:
                    continue
        return found


#: VACASK's `print stats` lines -> the profile's names (seconds, or counts)
VACASK_STATS = {"Elapsed time": "analysis_s", "Eval and load time": "device_evaluation_s",
                "NR solver time": "newton_s", "NR solver iterations": "newton_iterations",
                "Real refactorization time": "lu_refactorization_s", "Real solve time": "lu_solve_s",
                "Accepted timepoints": "accepted_timepoints", "Rejected timepoints": "rejected_timepoints"}


class _Dialect:
    template: ClassVar[str]
    filename: ClassVar[str]
    simulator: ClassVar[Simulator | None] = None  # None: golden text, not simulated here


class _Vacask(_Dialect):
    template = "veriloga/vacask.sim.j2"
    filename = "netlist.sim"
    simulator = VacaskSimulator()


class _Spectre(_Dialect):
    template = "veriloga/spectre.scs.j2"
    filename = "netlist.scs"


class VerilogADialect(Dialect):
    VACASK = "vacask"
    SPECTRE = "spectre"

    @classmethod
    def _specs(cls) -> dict:
        return _DIALECTS


_DIALECTS = {VerilogADialect.VACASK: _Vacask(), VerilogADialect.SPECTRE: _Spectre()}


@dataclass(frozen=True, eq=False)
class VerilogAOptions(AnalogTargetOptions):
    title = "veriloga target"
    dialect: VerilogADialect = option(VerilogADialect.VACASK, help="vacask (runnable here) or spectre "
                                                                   "(ahdl_include; golden text only)")
    preset: Accuracy = field(default=VERILOGA_ACCURACY)


Param = namedtuple("Param", "name type default")
WindowBlock = namedtuple("WindowBlock", "head on assign")
Assign = namedtuple("Assign", "local param")
Instance = namedtuple("Instance", "name src des model params")


def module_name(ident: str, n_windows: int) -> str:
    return f"{ident}_w{n_windows}"


def module_context(kind: str, ident: str, switch: tuple[float, ...], current_scale: float) -> dict:
    """Template context of one device module: len(switch) + 1 windows, switching at the `switch` times."""
    from kgen.devices import DEVICE_KINDS, V_DES, V_SRC

    from .printers import VerilogAPrinter, device_text

    n_windows = len(switch) + 1
    params = DEVICE_KINDS[kind].used_params
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
    from kgen import __version__

    from . import environment

    ctx = module_context(kind, ident, switch, current_scale)
    environment.write(folder / f"{ctx['module']}.va", "veriloga/device.va.j2", comment="//", version=__version__,
                      **header, **ctx)
    return ctx["module"]


def write_modules(ctx: NetlistContext, folder: Path) -> tuple[list[str], dict[str, str]]:
    """Every device kind's module for the context's schedule: (files, kind -> module name)."""
    files, modules = [], {}
    header = {"name": ctx.title, "digest": ctx.digest, "details": [ctx.details[1]]}
    for kind in ctx.kinds:
        module = write_module(folder, kind, ctx.idents[kind], ctx.setup.switch, ctx.setup.current_scale, header)
        files.append(f"{module}.va")
        modules[kind] = module
    return files, modules


def instance_params(element, rows: tuple[int, ...]) -> str:
    """`on_w<k>=1 p<r>_w<k>=...` for every window the edge is active in (inactive: on_w<k> stays 0)."""
    parts = []
    for w, values in enumerate(element.params):
        if values is None:
            continue
        parts.append(f"on_w{w}=1")
        parts += [f"p{r}_w{w}={v!r}" for r, v in zip(rows, values)]
    return " ".join(parts)


def context(circuit: Circuit, options: VerilogAOptions, initial: np.ndarray, schedule: Schedule) -> NetlistContext:
    return netlist_context(circuit, options.units, options.transient, options.save, initial, schedule,
                           f"veriloga ({options.dialect.value})")


def write_veriloga(circuit: Circuit, options: VerilogAOptions, folder: Path, initial: np.ndarray,
                   schedule: Schedule, name: str | None = None,
                   loads: dict[str, str] | None = None) -> WrittenNetlist:
    """Write the device modules and one top-level netlist (B copies for the B rows of `initial`).

    `loads` maps a module file name to the path the netlist should load instead
    (the runner passes compiled .osdi files)."""
    from kgen.devices import DEVICE_KINDS

    from . import environment

    spec = options.dialect.spec
    ctx = context(circuit, options, initial, schedule)
    files, modules = write_modules(ctx, folder)

    def instances() -> Iterator[Instance]:
        rows = {k: DEVICE_KINDS[k].used_rows for k in ctx.kinds}
        copies = ctx.copies
        for el in ctx.elements():
            params = instance_params(el, rows[el.kind])
            for b in range(copies):
                yield Instance(f"e{el.edge}{copy_suffix(b, copies)}", node_name(el.src, b, copies),
                               node_name(el.des, b, copies), modules[el.kind], params)

    netlist = name or spec.filename
    loads = loads or {}
    environment.write(folder / netlist, spec.template, comment="//", **ctx.template_context(),
                      loads=[loads.get(f, f) for f in files], models=sorted(set(modules.values())),
                      pwl=ctx.pwl(), instances=instances(), save_all=ctx.save is Save.ALL)
    return WrittenNetlist(files + [netlist], ctx)


class VerilogATarget(AnalogTarget):
    name = "veriloga"
    description = "Verilog-A device modules and a top-level netlist (VACASK runnable; spectre golden text)"
    Options = VerilogAOptions

    def write_netlist(self, circuit, options, folder, initial, schedule, loads=None) -> WrittenNetlist:
        return write_veriloga(circuit, options, folder, initial, schedule, loads=loads)


TARGET = VerilogATarget()

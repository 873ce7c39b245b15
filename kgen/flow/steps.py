"""The flow's steps: what each needs, which kgen command it runs and what it leaves in its folder.

Every step but `inputs` and `report` is one or more real `kgen` commands (run as child processes
by the engine, so a step is exactly what a user could type); its folder `OUT/steps/NAME/` holds
only what those commands wrote. The options a flow file gives a step are that command's flags;
the flags the flow sets itself (inputs, outputs, --json, --plot, --trace) are not the user's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kgen.errors import InputError, expected_found

from .spec import FlowSpec, ModelSource

MODEL_FILE = "model.kgen"
INPUTS_FILE = "inputs.npy"
VIEW_OF_STEP = {"float": "float", "verify-spice": "spice", "verify-veriloga": "veriloga", "fixed": "fixed",
                "verify-rtl": "rtl"}


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]  # kgen's arguments
    stdout: str | None = None  # file in the step folder that takes stdout (else the log)


@dataclass(frozen=True)
class Context:
    spec: FlowSpec
    stage: Path  # the step's folder while it runs
    upstream: dict  # step name -> its finished folder

    def path(self, step: str, name: str) -> str:
        return str(self.upstream[step] / name)

    def out(self, name: str) -> str:
        return str(self.stage / name)

    def options(self, step: str) -> dict:
        return STEPS[step].options(self.spec)


@dataclass(frozen=True)
class Step:
    name: str
    needs: tuple[str, ...]
    command: str | None  # the kgen command whose flags the step's options are (cli_parsers key)
    fixed_flags: tuple[str, ...]  # flags the flow sets for this step
    plan: Callable[[Context], list[Command]] | None  # None: the engine runs it in process
    what: str
    tools: tuple[str, ...] = ()  # ExternalTool attribute paths "module:NAME" checked before the flow starts
    defaults: tuple = ()  # (option, value) the flow gives the command unless the flow file says otherwise

    def options(self, spec: FlowSpec) -> dict:
        return {**dict(self.defaults), **spec.options.get(self.name, {})}

    def tools_for(self, spec: FlowSpec) -> tuple[str, ...]:
        if self.name == "fpga-report":  # the place and route of the device the step will use
            return _fpga_tools(str(self.options(spec).get("device", "up5k")))
        if self.name == "verify-rtl":  # the simulator the step will use
            sim = str(self.options(spec).get("sim", "icarus"))
            return ("kgen.hdl.tools:VERILATOR",) if sim == "verilator" else ICARUS
        return self.tools


def flags(options: dict) -> list[str]:
    """A flow file's {option: value} as the command's flags, in the file's order."""
    out = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True or value is None:
            out.append(flag)
        elif value is False:
            continue
        elif isinstance(value, list):
            out += [flag, ",".join(str(v) for v in value)]
        else:
            out += [flag, str(value)]
    return out


def _model(ctx: Context) -> list[Command]:
    m = ctx.spec.model
    out = ctx.out(MODEL_FILE)
    if m.source is ModelSource.TRAIN:
        first = Command(("train", *flags(dict(m.train)), "-o", out))
    elif m.source is ModelSource.ORIGINAL:
        config, ckpt = (m.config, m.checkpoint) if m.path is None else (_one(m.path, ".yaml", ".yml"),
                                                                       _one(m.path, ".pth"))
        first = Command(("import", str(config), str(ckpt), "-o", out))
    else:
        first = Command(("copy", str(m.path), out))  # the engine copies; the model is checked by info below
    return [first, Command(("info", out, "--json"), stdout="info.json")]


def _one(folder: Path, *suffixes: str) -> Path:
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)
    if len(found) != 1:
        raise InputError(expected_found(f"original folder {folder}", f"one {' or '.join(suffixes)} file",
                                        f"{len(found)}"))
    return found[0]


def _evaluate(ctx: Context) -> list[Command]:
    opts = dict(ctx.options("evaluate"))
    if "task" not in opts:
        from kgen.datasets import POTENTIALS, TOY_SETS

        name = json.loads(Path(ctx.path("model", "info.json")).read_text())["name"]
        if name not in (*TOY_SETS, *POTENTIALS, "digits"):
            return []  # no task to score on: the report says so
        opts = {"task": name, **opts}
    return [Command(("eval", ctx.path("model", MODEL_FILE), *flags(opts), "--json"), stdout="eval.json")]


def _float(ctx: Context) -> list[Command]:
    return [Command(("run", ctx.path("model", MODEL_FILE), "--view", "float", "--inputs",
                     ctx.path("inputs", INPUTS_FILE), "-o", ctx.out("outputs.npy"), *flags(ctx.options("float"))))]


def _export(target: str, step: str, model_step: str, with_inputs: bool):
    def plan(ctx: Context) -> list[Command]:
        extra = ("--inputs", ctx.path("inputs", INPUTS_FILE)) if with_inputs else ()
        return [Command(("--target", target, ctx.path(model_step, MODEL_FILE), "-o", ctx.out(target), *extra,
                         *flags(ctx.options(step))))]
    return plan


def _verify(view: str, step: str, model_step: str):
    def plan(ctx: Context) -> list[Command]:
        return [Command(("verify", ctx.path(model_step, MODEL_FILE), "--view", view, "--inputs",
                         ctx.path("inputs", INPUTS_FILE), "--plot", ctx.out("verify.png"), "--trace",
                         ctx.out("trace.npz"), *flags(ctx.options(step)), "--json"), stdout="verify.json")]
    return plan


def _monte_carlo(ctx: Context) -> list[Command]:
    # finished trials are kept beside the steps (OUT/cache), so a killed flow re-run finishes only the
    # missing ones, and a changed option keeps the trials it did not change
    cache = ctx.stage.parent.parent / MONTE_CARLO_CACHE
    return [Command(("verify", ctx.path("model", MODEL_FILE), "--view", "veriloga", "--inputs",
                     ctx.path("inputs", INPUTS_FILE), "--plot", ctx.out("montecarlo.png"), "--cache", str(cache),
                     *flags(ctx.options("monte-carlo")), "--json"), stdout="montecarlo.json")]


def _fpga_report(ctx: Context) -> list[Command]:
    return [Command(("fpga", "report", ctx.path("quantize", MODEL_FILE), *flags(ctx.options("fpga-report")),
                     "--json"), stdout="fpga.json")]


def _fpga_tools(device: str) -> tuple[str, ...]:
    """Yosys, and the place and route of the device's family (an unknown device is `kgen fpga`'s one line)."""
    from kgen.hdl.fpga.devices import Family, device as fpga_device

    family = fpga_device(device).family
    placer = {Family.ICE40: ("kgen.hdl.fpga.tools:NEXTPNR_ICE40",), Family.ECP5: ("kgen.hdl.fpga.tools:NEXTPNR_ECP5",)}
    return ("kgen.hdl.tools:YOSYS",) + placer.get(family, ())


def _quantize(ctx: Context) -> list[Command]:
    return [Command(("quantize", ctx.path("model", MODEL_FILE), "-o", ctx.out(MODEL_FILE),
                     *flags(ctx.options("quantize"))))]


VERIFY_FLAGS = ("--view", "--inputs", "--samples", "--plot", "--trace", "--json", "--record")
MONTE_CARLO_CACHE = "cache"
NGSPICE, VERILOGA_TOOLS, ICARUS = ("kgen.codegen.tools:NGSPICE",), ("kgen.codegen.tools:VACASK",
                                                                     "kgen.codegen.tools:OPENVAF"), \
    ("kgen.hdl.tools:IVERILOG",)

STEPS = {s.name: s for s in (
    Step("model", (), None, (), _model, "the model: trained, imported or as given; its card"),
    Step("inputs", ("model",), None, (), None, "the inputs every view runs on"),
    Step("evaluate", ("model",), "eval", ("--json",), _evaluate, "the float model's task metric"),
    Step("float", ("model", "inputs"), "run --view float", ("--view", "--inputs", "-o", "--output"), _float,
         "the float reference's outputs"),
    Step("export-spice", ("model", "inputs"), "--target spice", ("--target", "-o", "--output", "--inputs"),
         _export("spice", "export-spice", "model", True), "the SPICE netlist"),
    Step("export-veriloga", ("model", "inputs"), "--target veriloga", ("--target", "-o", "--output", "--inputs"),
         _export("veriloga", "export-veriloga", "model", True), "the Verilog-A models and netlist"),
    Step("verify-spice", ("model", "inputs"), "verify --view spice", VERIFY_FLAGS,
         _verify("spice", "verify-spice", "model"), "ngspice against the float reference", NGSPICE),
    Step("verify-veriloga", ("model", "inputs"), "verify --view veriloga", VERIFY_FLAGS,
         _verify("veriloga", "verify-veriloga", "model"), "VACASK against the float reference", VERILOGA_TOOLS),
    Step("monte-carlo", ("model", "inputs"), "verify --view veriloga", VERIFY_FLAGS + ("--cache",), _monte_carlo,
         "mismatch Monte Carlo in VACASK, each trial against the float model perturbed alike", VERILOGA_TOOLS,
         (("mismatch", 0.05), ("trials", 10))),
    Step("quantize", ("model",), "quantize", ("-o", "--output"), _quantize, "the fixed-point twin's dt and formats"),
    Step("fixed", ("quantize", "inputs"), "verify --view fixed", VERIFY_FLAGS,
         _verify("fixed", "fixed", "quantize"), "the bit-exact twin against float Euler and its bound"),
    Step("export-verilog", ("quantize",), "--target verilog", ("--target", "-o", "--output"),
         _export("verilog", "export-verilog", "quantize", False), "the twin's Verilog"),
    # Verilator by default: whole trajectories at every step (the plot needs them) are what it is for;
    # Icarus runs this twin at a few k cycles/s (docs/hdl.md). `verify-rtl: {sim: icarus}` chooses it.
    Step("verify-rtl", ("quantize", "inputs"), "verify --view rtl", VERIFY_FLAGS,
         _verify("rtl", "verify-rtl", "quantize"), "the RTL simulated against the bit-exact model", ICARUS,
         (("sim", "verilator"),)),
    # one lane by default: the UP5K's 8 DSPs hold one lane of a tanh kind (docs/fpga.md)
    Step("fpga-report", ("quantize",), "fpga report", ("--json",), _fpga_report,
         "the twin's board design synthesized, placed and routed: resources, Fmax, latency", (),
         (("device", "up5k"), ("lanes", 1))),
    Step("report", (), None, (), None, "report.html and report.json"),
)}


def tool(path: str):
    """The ExternalTool a step names as "module:NAME" (imported only when a flow checks or reports it)."""
    import importlib

    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


def _check_flags(keys, parser, not_the_users: set, where: str, command: str) -> None:
    known = {s for a in parser._actions for s in a.option_strings} - {"-h", "--help"} - not_the_users
    for key in keys:
        if "--" + key.replace("_", "-") not in known:
            raise InputError(expected_found(f"{where}.{key}", f"an option of kgen {command} (" +
                                            ", ".join(sorted(k[2:] for k in known if k.startswith("--"))) + ")",
                                            f"unknown option {key!r}"))


def check_options(spec: FlowSpec, parser_for: Callable[[str], object]) -> None:
    """Every option of every step is a flag its command takes and the flow does not set itself."""
    for step, opts in spec.options.items():
        st = STEPS[step]
        _check_flags(opts, parser_for(st.command), set(st.fixed_flags), f"flow file {spec.origin}: steps.{step}",
                     st.command)
    if spec.model.source is ModelSource.TRAIN:
        _check_flags([k for k, _ in spec.model.train], parser_for("train"), {"-o", "--output"},
                     f"flow file {spec.origin}: model.train", "train")


def graph(spec: FlowSpec) -> dict[str, tuple[str, ...]]:
    """Enabled step -> the enabled steps it needs (the report needs every other one)."""
    on = [s for s in STEPS if spec.enabled(s)]
    out = {s: tuple(d for d in STEPS[s].needs if d in on) for s in on if s != "report"}
    for s in on:
        missing = [d for d in STEPS[s].needs if d not in on]
        if missing:
            raise InputError(expected_found(f"flow file {spec.origin}: steps.{s}", f"its inputs from {missing[0]}",
                                            f"{missing[0]} turned off (turn {s} off too)"))
    if "report" in on:
        out["report"] = tuple(s for s in on if s != "report")
    return out

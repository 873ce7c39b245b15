"""The kgen command line: thin wrappers over the Python API and the plugin registries.

Two shapes share one entry point:

    kgen --target T MODEL -o DIR [target options]   code generation
    kgen VERB ...                                   import, run, eval, info, ...

argparse subparsers alone would read MODEL as a verb, so the first word is
dispatched by hand. A view's or target's own flags come from its options
dataclass (`kgen run --view V --help`, `kgen --target T --help` list them).
Every KgenError becomes one line on stderr and exit 2; `--debug` shows the
traceback instead. Heavy modules (torch, amaranth, cocotb) are imported inside
the commands, so `kgen --help` starts fast.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from . import __version__
from .errors import InputError, KgenError, ToolError, expected_found

CORE_VERBS = {
    "import": "convert an original config.yaml + model.pth to a kgen model file",
    "run": "run a model on inputs and write its outputs",
    "eval": "score a model on its task (held-out NLL, density loss, accuracy)",
    "info": "print nodes, edges, device kinds, parameters and the digest",
    "example": "write the bundled example circuit as a model file",
    "train": "train a KirchhoffNet (digits classifier or a 2-D flow) and write the model file",
    "verify": "compare a view (spice, veriloga, rtl, ...) with its reference",
    "diff": "compare two traces; name the first diverging step and node and the cause",
    "flow": "the main job: model -> every view verified, the twin, one report (cached, named steps)",
}


def _plugin_commands() -> list[str]:
    from .plugins import COMMANDS as registry

    return [n for n in registry.names() if n not in CORE_VERBS]


def verbs() -> list[str]:
    """Every verb: kgen's own, then the ones packages add (entry points `kgen.commands`)."""
    return list(CORE_VERBS) + _plugin_commands()


def __getattr__(name):
    if name == "COMMANDS":  # the verbs, for callers that list them
        return {v: _dispatch_table().get(v) for v in verbs()}
    raise AttributeError(name)


def _overview() -> str:
    from .plugins import COMMANDS as registry
    from .plugins import TARGETS, VIEWS

    lines = [f"usage: kgen [--debug] --target TARGET MODEL -o DIR [target options]",
             "       kgen [--debug] VERB [options]", "",
             f"kgen {__version__}: turn a trained KirchhoffNet into hardware.", "",
             "MODEL is a kgen model file or a folder holding an original config.yaml + model.pth.", "", "verbs:"]
    for verb, text in CORE_VERBS.items():
        lines.append(f"  {verb:<9} {text}")
    for verb in _plugin_commands():
        lines.append(f"  {verb:<9} {registry.get(verb).description}")
    lines += ["", "targets (kgen --target TARGET --help lists a target's options):",
              "  " + ", ".join(TARGETS.names()), "",
              "views (kgen run --view VIEW --help lists a view's options):", "  " + ", ".join(VIEWS.names()), "",
              "Run `kgen VERB --help` for a verb's options."]
    return "\n".join(lines) + "\n"


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 input', '3 inputs': counts as a person writes them."""
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


MAX_SEED = 2 ** 32 - 1


def check_count(value, flag: str, least: int = 1) -> None:
    if value is not None and value < least:
        raise InputError(expected_found(flag, "a positive count" if least == 1 else f"an integer >= {least}",
                                        str(value)))


def check_seed(value, flag: str = "--seed") -> None:
    if value is not None and not 0 <= value <= MAX_SEED:
        raise InputError(expected_found(flag, f"a seed in 0..{MAX_SEED}", str(value)))


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as the one-line kgen error (exit 2)."""

    def error(self, message):
        raise InputError(f"{self.prog}: {message}")


def _pre(argv: list[str], flag: str, default: str | None = None) -> str | None:
    """The value of one flag before the full parse (it decides which plugin's flags exist)."""
    pre = _Parser(add_help=False)
    pre.add_argument(flag, default=default)
    known, _ = pre.parse_known_args(argv)
    return getattr(known, flag.lstrip("-").replace("-", "_"))


def _refuse_foreign_flags(argv: list[str], parser: argparse.ArgumentParser, chosen: str) -> None:
    """A flag another view takes, given to this one: name the views it belongs to (one line)."""
    known = {s for a in parser._actions for s in a.option_strings}
    flags = [a.split("=", 1)[0] for a in argv if a.startswith("--") and a.split("=", 1)[0] not in known]
    if not flags:
        return
    from .options import describe
    from .plugins import VIEWS

    for flag in flags:
        owners = []
        for name in VIEWS.names():
            try:
                if flag in describe(VIEWS.get(name).Options):
                    owners.append(name)
            except KgenError:
                continue
        if owners:
            raise InputError(expected_found(flag, f"the {' or '.join(owners)} view", f"--view {chosen}"))


def _load(path: str):
    from .modelfile import load_model

    return load_model(path)


# -- verbs -------------------------------------------------------------------

def _parser_import() -> _Parser:
    p = _Parser(prog="kgen import", description=CORE_VERBS["import"])
    p.add_argument("config", help="the original config.yaml")
    p.add_argument("pth", help="the original model.pth")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    return p


def cmd_import(argv):
    p = _parser_import()
    a = p.parse_args(argv)
    from .fsutil import refuse_own_inputs
    from .modelfile import Model
    from .original import import_original

    refuse_own_inputs([("-o", a.output)], [("config", a.config), ("pth", a.pth)])
    circuit = import_original(a.config, a.pth)
    digest = Model(circuit).save(a.output)
    print(f"imported {circuit.name}: {circuit.n_nodes} nodes, {circuit.n_edges} edges, "
          f"{len(circuit.windows)} windows, {circuit.n_parameters()} parameters -> {a.output} ({digest[:12]})")


def _record_arguments(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--trace", metavar="T.npz", help=f"write the {what} trace to this .npz (every step or simulator "
                                                    "time point)")
    p.add_argument("--record", choices=("boundaries", "steps"),
                   help="states the trace keeps: the window boundaries (default) or every step / time point "
                        "(default with --trace)")


def _vdd_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vdd", type=float, metavar="V",
                   help="report the forward time and the energy a supply at V volts gives at least: V times the "
                        "charge the edge devices move (from every time point of the waveforms; physical units "
                        "under --cap/--tau)")


def _energy(model, trace, options, vdd: float, reference_charge=None):
    from .energy import energy_of

    return energy_of(model, trace, vdd, getattr(options, "cap", 1.0), getattr(options, "tau", 1.0),
                     reference_charge)


def _record(a):
    from .views import Record

    if a.record:
        return Record(a.record)
    return Record.STEPS if a.trace else Record.BOUNDARIES


def _parser_run(view) -> _Parser:
    from .options import add_arguments
    from .plugins import VIEWS

    p = _Parser(prog="kgen run", description=CORE_VERBS["run"] + f" ({view.name} view: {view.description})")
    p.add_argument("model", help="kgen model file or original checkpoint folder")
    p.add_argument("--inputs", required=True, help="(batch, n_inputs) .npy array")
    p.add_argument("-o", "--output", required=True, help="(batch, n_outputs) .npy array to write")
    p.add_argument("--view", default="float", help="one of: " + ", ".join(VIEWS.names()) + " (default float)")
    _record_arguments(p, "view's")
    _vdd_argument(p)
    p.add_argument("--json", action="store_true", help="print what ran (and the energy under --vdd) as one JSON "
                                                       "document")
    add_arguments(p, view.Options)
    return p


def cmd_run(argv):
    from .options import options_from_args
    from .plugins import VIEWS

    name = _pre(argv, "--view", "float")
    view = VIEWS.get(name)
    p = _parser_run(view)
    _refuse_foreign_flags(argv, p, name)
    a = p.parse_args(argv)
    from .arrays import read_inputs, write_array
    from .fsutil import refuse_own_inputs
    from .trace import write_trace
    from .views import run_view

    refuse_own_inputs([("-o", a.output), ("--trace", a.trace)], [("MODEL", a.model), ("--inputs", a.inputs)])
    options = options_from_args(view.Options, a)
    if a.vdd is not None:
        from .energy import check_energy_request

        check_energy_request(a.vdd, options)
    model = _load(a.model)
    x = read_inputs(a.inputs, model.circuit.n_data)
    record = _record(a)
    if a.vdd is not None:
        from .views import Record

        record = Record.STEPS  # the charge integral needs every time point
    trace = run_view(view, model, x, options, record)
    energy = _energy(model, trace, options, a.vdd) if a.vdd is not None else None
    y = model.outputs(trace)
    write_array(a.output, y)
    if a.trace:
        write_trace(a.trace, trace)
    if a.json:
        from .jsontext import dumps

        print(dumps({"model": model.name, "digest": model.digest, "view": view.name, "inputs": int(x.shape[0]),
                     "output": a.output, "shape": list(y.shape), "ran": str(trace.extra.get("label", view.description)),
                     "energy": energy.as_dict() if energy else None}))
        return
    print(f"ran {model.name} ({view.name} view) on {plural(x.shape[0], 'input')} -> {a.output} {tuple(y.shape)}")
    if energy is not None:
        print(f"  {energy.summary()}")


def _parser_eval() -> _Parser:
    p = _Parser(prog="kgen eval", description=CORE_VERBS["eval"])
    p.add_argument("model", help="kgen model file or original checkpoint folder")
    p.add_argument("--task", required=True, help="twomoon, 8gaussians, pinwheel, swissroll, circle, 2spirals, "
                                                 "potential1, potential2, mnist, digits")
    p.add_argument("--samples", type=int, default=20000, help="fresh samples for the toy tasks (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fresh samples and of the digits split "
                                                       "(default 0)")
    p.add_argument("--images", help="MNIST test images (IDX, e.g. t10k-images-idx3-ubyte[.gz])")
    p.add_argument("--labels", help="MNIST test labels (IDX)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON document")
    _mismatch_arguments(p.add_argument_group("the metric under mismatch (the float model; the same trials as "
                                             "kgen verify --mismatch)"))
    return p


def cmd_eval(argv):
    p = _parser_eval()
    a = p.parse_args(argv)
    check_seed(a.seed)
    from .datasets import read_idx
    from .evaluate import evaluate
    from .jsontext import dumps

    check_count(a.samples, "--samples")
    mismatch = _mismatch_of(a)
    circuit = _load(a.model).circuit
    images = labels = None
    if a.images or a.labels:
        if not (a.images and a.labels):
            raise InputError(expected_found("MNIST data", "both --images and --labels", "only one of them"))
        images = read_idx(a.images).reshape(-1, 28 * 28).astype("float64") / 255.0
        labels = read_idx(a.labels).astype("int64")
        if len(images) != len(labels):
            raise InputError(expected_found("MNIST labels", f"{len(images)} labels", str(len(labels))))
    from .progress import callback

    if mismatch is not None:
        from .montecarlo import eval_mismatch

        spread = eval_mismatch(circuit, a.task, mismatch, a.trials, a.samples, a.seed, images, labels)
        if a.json:
            print(dumps(spread))
        else:
            print(f"{circuit.name} on {spread['task']} under mismatch {mismatch.describe()}, {plural(a.trials, 'trial')}: "
                  f"{spread['metric']} mean {spread['mean']:.4f}, std {spread['std']:.4f}, worst {spread['worst']:.4f} "
                  f"(nominal {spread['nominal']:.4f}; mean change {spread['mean'] - spread['nominal']:+.4f})")
        return
    res = evaluate(circuit, a.task, a.samples, a.seed, images, labels, progress=callback(f"eval {a.task}", "sample"))
    if a.json:
        print(dumps(res.as_dict()))
    else:
        extra = "".join(f", {k} {v:.4g}" for k, v in res.extra.items())
        print(f"{circuit.name} on {res.task}: {res.metric} {res.value:.4f} over {res.n_samples} samples{extra}")


def info_dict(model) -> dict:
    import numpy as np

    from .devices import DEVICE_KINDS

    circuit = model.circuit
    windows = []
    for win in circuit.windows:
        kinds = circuit.edge_kind[win.edges]
        per_kind = {}
        for k, name in enumerate(circuit.kinds):
            sel = kinds == k
            if sel.any():
                vals = win.params[list(DEVICE_KINDS[name].used_rows)][:, sel]
                per_kind[name] = {"edges": int(sel.sum()), "param_min": float(vals.min()),
                                  "param_max": float(vals.max())}
        windows.append({"t_start": win.t_start, "t_end": win.t_end, "edges": int(win.edges.size), "kinds": per_kind})
    return {
        "name": circuit.name, "task": circuit.task.value, "digest": model.digest,
        "nodes": circuit.n_nodes, "edges": circuit.n_edges, "inputs": len(circuit.inputs),
        "data_width": circuit.n_data, "fill": circuit.fill.value,
        "outputs": len(circuit.outputs), "parameters": circuit.n_parameters(), "kinds": list(circuit.kinds),
        "capacitance": {"min": float(np.min(circuit.capacitance)), "max": float(np.max(circuit.capacitance))},
        "windows": windows,
        "defaults": circuit.defaults.to_dict(),
        "quantized": model.quant is not None,
        "hdl": model.hdl.to_dict() if model.hdl is not None else None,
    }


def _parser_info() -> _Parser:
    p = _Parser(prog="kgen info", description=CORE_VERBS["info"])
    p.add_argument("model", help="kgen model file or original checkpoint folder")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p


def cmd_info(argv):
    p = _parser_info()
    a = p.parse_args(argv)
    from .jsontext import dumps

    d = info_dict(_load(a.model))
    if a.json:
        print(dumps(d, indent=2))
        return
    print(f"{d['name']} ({d['task']})  digest {d['digest']}")
    fill = f"; data width {d['data_width']} tiled (fill: repeat)" if d["fill"] == "repeat" else ""
    print(f"  nodes {d['nodes']} (inputs {d['inputs']}{fill}, outputs {d['outputs']}), edges {d['edges']}, "
          f"parameters {d['parameters']}, capacitance {d['capacitance']['min']:g}..{d['capacitance']['max']:g}")
    print(f"  solver default: {d['defaults']['method']} rtol {d['defaults']['rtol']:g} atol {d['defaults']['atol']:g}")
    for w, win in enumerate(d["windows"]):
        kinds = ", ".join(f"{k} x{v['edges']} [{v['param_min']:.4g}, {v['param_max']:.4g}]"
                          for k, v in win["kinds"].items())
        print(f"  window {w} [{win['t_start']:g}, {win['t_end']:g}]: {win['edges']} edges: {kinds}")


def _parser_example() -> _Parser:
    p = _Parser(prog="kgen example", description=CORE_VERBS["example"])
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.add_argument("--seed", type=int, help="a random circuit of this seed instead of the demo circuit")
    return p


def cmd_example(argv):
    p = _parser_example()
    a = p.parse_args(argv)
    check_seed(a.seed)
    from .examples import demo_circuit, random_circuit
    from .modelfile import Model

    circuit = demo_circuit() if a.seed is None else random_circuit(a.seed)
    digest = Model(circuit).save(a.output)
    print(f"wrote {circuit.name}: {circuit.n_nodes} nodes, {circuit.n_edges} edges, {len(circuit.windows)} windows, "
          f"kinds {', '.join(circuit.kinds)} -> {a.output} ({digest[:12]})")


def _mismatch_arguments(group) -> None:
    """The flags of the one mismatch model, the same in every command that takes them."""
    from .mismatch import P_REF

    group.add_argument("--mismatch", type=float, metavar="SIGMA",
                       help="relative spread of every learned scalar: p' = p + SIGMA * max(|p|, p_ref) * eps")
    group.add_argument("--cap-tolerance", type=float, default=0.0, metavar="S",
                       help="relative spread of every node capacitor: C' = C (1 + S * eps) (default 0)")
    group.add_argument("--p-ref", type=float, default=P_REF, metavar="P",
                       help=f"absolute floor of the parameter spread (default {P_REF:g})")
    group.add_argument("--trials", type=int, metavar="N", help="Monte Carlo trials; trial k draws from (--seed, k)")


def _parser_verify(view) -> _Parser:
    from .options import add_arguments
    from .plugins import VIEWS

    p = _Parser(prog="kgen verify", description="compare a view's trace with its reference's "
                                                f"({view.name} view: {view.description})")
    p.add_argument("model", help="kgen model file or original checkpoint folder")
    p.add_argument("--view", required=True, help="one of: " + ", ".join(VIEWS.names()))
    src = p.add_mutually_exclusive_group()
    src.add_argument("--inputs", help="(batch, n_inputs) .npy inputs")
    src.add_argument("--samples", type=int, help="this many standard normal inputs (default 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of --samples (default 0)")
    p.add_argument("--tol", type=float, help="maximum absolute error accepted (default 1e-4 against the float "
                                             "reference, or the view's --accuracy; the derived one against "
                                             "another view: bit-exact words for the RTL)")
    p.add_argument("--plot", help="write an overlay of reference vs view trajectories (first input) to this file; "
                                  "under --mismatch the histogram of the trials")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    _record_arguments(p, "view's")
    _vdd_argument(p)
    mc = p.add_argument_group("mismatch Monte Carlo (each trial against the float model perturbed alike)")
    _mismatch_arguments(mc)
    mc.add_argument("--labels", metavar="Y.npy", help="class labels of --inputs (classifiers: accuracy per trial)")
    mc.add_argument("--jobs", type=int, help="trials run side by side on this machine (default: the cores)")
    mc.add_argument("--scheduler", metavar="ADDRESS",
                    help="run the trials on a Dask cluster: tcp://HOST:PORT or a scheduler file")
    mc.add_argument("--cache", metavar="DIR", help="where finished trials are kept, so a re-run runs only the "
                                                   "missing ones (default $KGEN_CACHE_DIR, else ~/.cache/kgen)")
    add_arguments(p, view.Options)
    return p


def cmd_verify(argv):
    from .options import options_from_args
    from .plugins import VIEWS

    name = _pre(argv, "--view")
    if name is None:
        raise InputError("kgen verify: the following arguments are required: --view")
    view = VIEWS.get(name)
    p = _parser_verify(view)
    _refuse_foreign_flags(argv, p, name)
    a = p.parse_args(argv)
    import math

    from .arrays import read_inputs
    from .fsutil import refuse_own_inputs
    from .jsontext import dumps
    from .trace import write_trace
    from .verify import VerifyMismatch, plot_overlay, verify, verify_inputs
    from .views import Record

    refuse_own_inputs([("--plot", a.plot), ("--trace", a.trace)],
                      [("MODEL", a.model), ("--inputs", a.inputs), ("--labels", a.labels)])

    check_count(a.samples, "--samples")
    check_seed(a.seed)
    if a.tol is not None and not (a.tol > 0 and math.isfinite(a.tol)):
        raise InputError(expected_found("--tol", "a finite positive number", str(a.tol)))
    if a.plot and "." in a.plot and a.plot.rsplit(".", 1)[-1].lower() not in ("png", "pdf", "svg"):
        raise InputError(expected_found("--plot", "a .png, .pdf or .svg file name", repr(a.plot)))
    options = options_from_args(view.Options, a)
    monte_carlo = _monte_carlo_request(a)
    model = _load(a.model)
    x = read_inputs(a.inputs, model.circuit.n_data) if a.inputs else verify_inputs(model, None, a.samples or 16,
                                                                                   a.seed)
    if monte_carlo is not None:
        return _verify_monte_carlo(a, model, view, x, options, monte_carlo)
    if a.vdd is not None:
        from .energy import check_energy_request

        check_energy_request(a.vdd, options)
    record = Record.STEPS if a.plot or a.vdd is not None else _record(a)
    res = verify(model, view, x, options, a.tol, record)
    report = res.report
    if a.vdd is not None:
        import dataclasses

        from .energy import float_charge

        reference = float_charge(model, x, bool(getattr(options, "reverse", False)))
        report = dataclasses.replace(report, energy=_energy(model, res.trace, options, a.vdd, reference).as_dict())
    if a.plot:
        plot_overlay(a.plot, model, view.name, res.reference, res.trace)
    if a.trace:
        write_trace(a.trace, res.trace)
    ref_name = "float reference" if report.reference.startswith("float64") else report.reference
    if a.json:
        print(dumps(report.as_dict()))
    else:
        print(f"{report.circuit}: {view.name} vs {ref_name} over {plural(report.inputs, 'input')} at "
              f"{plural(len(report.boundaries), 'window boundary', 'window boundaries')} "
              f"({plural(report.compared_steps, 'state')} compared)")
        print(f"  view:      {report.simulator}")
        print(f"  reference: {report.reference}")
        print("  max |error| per boundary: " + ", ".join(
            f"t={t:g}: {e:.3g}" if e == e else f"t={t:g}: not observed"  # NaN: the view saw only its outputs
            for t, e in zip(report.boundaries, report.max_per_boundary)))
        print(f"  max |error| {report.max_abs_error:.3g} V, mean |error| {report.mean_abs_error:.3g} V "
              f"({report.tolerance_text})")
        for key, value in sorted(report.details.items()):
            if isinstance(value, dict):  # a simulator's profile
                value = ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in value.items())
            print(f"  {key.replace('_', ' ')}: {value}")
        if report.argmax_agreement is not None:
            print(f"  argmax agreement {report.argmax_agreement:.4f}")
        if report.energy is not None:
            from .energy import Energy

            e = report.energy
            print("  " + Energy(e["vdd"], e["cap"], e["tau"], e["forward_time"], tuple(e["charge"]),
                                tuple(e["reference_charge"])).summary())
        if a.plot:
            print(f"  plot: {a.plot}")
        print(f"  {'passed' if report.passed else 'FAILED: ' + str(report.first_divergence)}")
    if not report.passed:
        tol = f"max |error| <= {report.tolerance:g}" if report.tolerance is not None else report.tolerance_text
        raise VerifyMismatch(expected_found(f"{view.name} vs {ref_name}", tol,
                                            f"{report.max_abs_error:.3g}"))


def _mismatch_of(a, only_with: tuple[tuple[str, object], ...] = ()):
    """The Mismatch the flags ask for (checked before anything runs); None without --mismatch, when the
    flags that only mean something beside it (`only_with`, --trials, --cap-tolerance) are refused."""
    from .mismatch import Mismatch

    if a.mismatch is None:
        given = [flag for flag, value in (("--trials", a.trials), *only_with, ("--cap-tolerance", a.cap_tolerance))
                 if value is not None and value is not False and value != 0.0]
        if given:
            raise InputError(expected_found(given[0], "--mismatch SIGMA beside it (a Monte Carlo run)", "none"))
        return None
    if a.trials is None:
        raise InputError(expected_found("--mismatch", "--trials N beside it", "none"))
    check_count(a.trials, "--trials")
    return Mismatch(a.mismatch, a.cap_tolerance, a.p_ref, a.seed)


def _monte_carlo_request(a):
    """The Mismatch of `kgen verify --mismatch`, checked before anything runs; None without --mismatch."""
    mismatch = _mismatch_of(a, (("--labels", a.labels), ("--jobs", a.jobs), ("--scheduler", a.scheduler),
                                ("--cache", a.cache)))
    if mismatch is None:
        return None
    check_count(a.jobs, "--jobs")
    for flag, value in (("--trace", a.trace), ("--record", a.record)):
        if value is not None:
            raise InputError(expected_found(flag, "no trace under --mismatch (the trials keep their outputs)",
                                            str(value)))
    if a.labels and not a.inputs:
        raise InputError(expected_found("--labels", "--inputs X.npy beside it (the labels of those inputs)",
                                        "--samples"))
    return mismatch


def _verify_monte_carlo(a, model, view, x, options, mismatch) -> None:
    from .arrays import read_array
    from .jsontext import dumps
    from .montecarlo import monte_carlo, plot_histogram
    from .verify import VerifyMismatch

    labels = read_array(a.labels, "--labels") if a.labels else None
    from pathlib import Path

    report = monte_carlo(model, view, x, options, mismatch, a.trials, a.tol, labels, a.scheduler, a.jobs,
                         Path(a.cache) if a.cache else None, vdd=a.vdd)
    if a.plot and report.per_trial:
        plot_histogram(a.plot, report)
    if a.json:
        print(dumps(report.as_dict()))
    else:
        run = report.run
        print(f"{report.circuit}: {view.name} under mismatch {mismatch.describe()}: "
              f"{plural(report.trials, 'trial')} x {plural(report.inputs, 'input')} "
              f"({run['executor']}; {run['ran']} ran, {run['cached']} from the cache)")
        if report.fidelity is not None:
            worst = max(report.per_trial, key=lambda t: t["max_abs_error"])
            print(f"  fidelity (each trial vs the float model with the same perturbation): max |error| "
                  f"{report.fidelity.max:.3g} (trial {worst['trial']}), {report.passed_trials} of "
                  f"{len(report.per_trial)} within {report.tolerance:g}")
            spread = report.metric_spread
            print(f"  {report.metric} against the nominal circuit: mean {spread.mean:.4g}, std {spread.std:.3g}, "
                  f"min {spread.min:.4g}, max {spread.max:.4g} (nominal {report.nominal_metric:.4g})")
            print("  output deviation |trial - nominal|: " + ", ".join(
                f"n{node} mean {d['mean']:.3g} max {d['max']:.3g}" for node, d in report.deviation.items()))
        if report.energy is not None:
            e = report.energy
            unit = "J" if e["cap"] != 1.0 or e["tau"] != 1.0 else "model units"
            m = e["mean_energy"]
            print(f"  energy per input at VDD {e['vdd']:g} V (a lower bound): mean over trials {m['mean']:.4g} {unit} "
                  f"(std {m['std']:.3g}, min {m['min']:.4g}, max {m['max']:.4g}); the float model's charge, "
                  f"perturbed alike, differs by at most {e['max_relative_difference']:.2g} (relative)")
        for f in report.failures:
            print(f"  trial {f['trial']} FAILED: {f['error']}")
        if a.plot and report.per_trial:
            print(f"  plot: {a.plot}")
        print(f"  {'passed' if report.passed else 'FAILED'}")
    if report.failures:
        first = report.failures[0]
        raise ToolError(expected_found(f"monte carlo ({view.name})", f"{plural(report.trials, 'trial')} run",
                                       f"{plural(len(report.failures), 'failed trial')}, first trial "
                                       f"{first['trial']}: {first['error']}"))
    if report.passed_trials < len(report.per_trial):
        bad = next(t for t in report.per_trial if not t["passed"])
        raise VerifyMismatch(expected_found(
            f"{view.name} vs the float model under mismatch", f"max |error| <= {report.tolerance:g} in every trial",
            f"{len(report.per_trial) - report.passed_trials} trials above it, first trial {bad['trial']}: "
            f"{bad['max_abs_error']:.3g}"))


def _parser_train() -> _Parser:
    p = _Parser(prog="kgen train", description=CORE_VERBS["train"])
    p.add_argument("--task", required=True, help="digits, or a 2-D flow: twomoon, 8gaussians, pinwheel, swissroll, "
                                                 "circle, 2spirals")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.add_argument("--epochs", type=int, default=8, help="digits: passes over the training split (default 8)")
    p.add_argument("--iterations", type=int, default=500, help="flows: batches of fresh samples (default 500)")
    p.add_argument("--lr", type=float, help="AdamW learning rate (default 1e-2 for digits, 5e-3 for flows)")
    p.add_argument("--batch-size", type=int, help="samples per step (default 64 for digits, 512 for flows)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial parameters and the data (default 0)")
    return p


def cmd_train(argv):
    p = _parser_train()
    a = p.parse_args(argv)
    from .options import positive

    check_count(a.epochs, "--epochs")
    check_count(a.iterations, "--iterations")
    check_count(a.batch_size, "--batch-size")
    check_seed(a.seed)
    positive(a.lr, "--lr")
    from .datasets import TOY_SETS, digits, toy_samples
    from .modelfile import Model
    from .solver import Solver
    from .train import TrainConfig, digits_circuit, toy_flow_circuit, train_classifier, train_flow

    def report(step, total, loss):
        print(f"  {step}/{total}: loss {loss:.4f}", file=sys.stderr, flush=True)

    if a.task == "digits":
        cfg = TrainConfig(epochs=a.epochs, lr=a.lr or 1e-2, batch_size=a.batch_size or 64, seed=a.seed)
        x, y, _, _ = digits(a.seed)
        circuit = train_classifier(digits_circuit(a.seed), x, y, cfg, report)
    elif a.task in TOY_SETS:
        cfg = TrainConfig(lr=a.lr or 5e-3, batch_size=a.batch_size or 512, seed=a.seed,
                          solver=Solver(method="rk4", steps=8, dtype="float32"))
        circuit = train_flow(toy_flow_circuit(a.task, a.seed),
                             lambda n, it: toy_samples(a.task, n, seed=a.seed * 1_000_003 + it + 1),
                             cfg, a.iterations, report)
    else:
        raise InputError(expected_found("--task", "digits or one of " + ", ".join(TOY_SETS), repr(a.task)))
    digest = Model(circuit).save(a.output)
    print(f"trained {circuit.name}: {circuit.n_nodes} nodes, {circuit.n_edges} edges -> {a.output} ({digest[:12]})")


def _parser_flow() -> _Parser:
    p = _Parser(prog="kgen flow", description=CORE_VERBS["flow"] + ". Steps, in order: model, inputs, evaluate, "
                "float, export-spice, export-veriloga, verify-spice, verify-veriloga, quantize, fixed, "
                "export-verilog, verify-rtl, report; a step runs again only when its inputs or options changed.")
    p.add_argument("target", metavar="FLOW_OR_MODEL", help="a flow file (.yaml: model, inputs, steps), or a kgen "
                                                           "model / original folder run with the default flow")
    p.add_argument("-o", "--output", required=True, help="output folder: steps/, logs/, flow.json, report.html, "
                                                         "report.json (an earlier run's folder is reused)")
    p.add_argument("--only", help="comma-separated steps to run (the others' results are taken as they are)")
    p.add_argument("--from", dest="start", metavar="STEP", help="run this step and every step after it")
    p.add_argument("--force", action="store_true", help="run the selected steps even when up to date")
    p.add_argument("--jobs", type=int, default=2, help="steps run side by side at most (default 2)")
    return p


def cmd_flow(argv):
    a = _parser_flow().parse_args(argv)
    check_count(a.jobs, "--jobs")
    from pathlib import Path

    from .flow import FlowOptions, flow_for, run_flow

    spec = flow_for(a.target)
    only = tuple(s.strip() for s in a.only.split(",") if s.strip()) if a.only else ()
    if a.only is not None and not only:
        raise InputError(expected_found("--only", "comma-separated step names", repr(a.only)))
    parsers = {}

    def parser_for(command: str):
        if not parsers:
            parsers.update(cli_parsers())
        return parsers[command]

    engine = run_flow(spec, Path(a.output), FlowOptions(only, a.start, a.force, a.jobs), parser_for)
    ran = [s for s, o in engine.outcomes.items() if o.ran]
    report = Path(a.output) / "report.html"
    tail = f"; report: {report}" if report.exists() else ""
    print(f"flow finished: {plural(len(ran), 'step')} ran, {len(engine.outcomes) - len(ran)} up to date{tail}")
    fpga = Path(a.output) / "steps" / "fpga-report" / "fpga.json"
    if fpga.exists():
        import json

        from .flow.report import fpga_summary

        print(fpga_summary(json.loads(fpga.read_text())))


def _parser_diff() -> _Parser:
    p = _Parser(prog="kgen diff", description=CORE_VERBS["diff"])
    p.add_argument("trace_a", help="a trace .npz (kgen run --trace, kgen verify --trace)")
    p.add_argument("trace_b", help="the trace to compare it with")
    p.add_argument("--atol", type=float, help="absolute tolerance (default: the traces' derived bound, bits for "
                                              "two fixed-point traces of the same formats)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON document")
    return p


def cmd_diff(argv):
    p = _parser_diff()
    a = p.parse_args(argv)
    import math

    from .compare import diff
    from .jsontext import dumps
    from .trace import read_trace

    if a.atol is not None and not (math.isfinite(a.atol) and a.atol >= 0):
        raise InputError(expected_found("--atol", "a finite non-negative tolerance", str(a.atol)))
    res = diff(read_trace(a.trace_a), read_trace(a.trace_b), a.atol)
    if a.json:
        print(dumps(dict(res.__dict__, diverged=res.diverged)))
    else:
        print(res.summary())
    if res.diverged:
        raise SystemExit(1)


def _parser_codegen(target) -> _Parser:
    from .options import add_arguments
    from .plugins import TARGETS

    p = _Parser(prog=f"kgen --target {target.name}", description=target.description)
    p.add_argument("--target", required=True, help="one of: " + ", ".join(TARGETS.names()))
    p.add_argument("model", help="kgen model file or original checkpoint folder")
    p.add_argument("-o", "--output", required=True, help="output directory (created; replaced if it holds only "
                                                         "the files kgen wrote there)")
    p.add_argument("--force", action="store_true", help="replace the output directory even if it holds files "
                                                        "kgen did not write (they are lost)")
    add_arguments(p, target.Options)
    return p


def cmd_codegen(argv):
    from .options import options_from_args
    from .plugins import TARGETS

    target = TARGETS.get(_pre(argv, "--target"))
    p = _parser_codegen(target)
    a = p.parse_args(argv)
    from .fsutil import refuse_own_inputs

    options = options_from_args(target.Options, a)
    inputs = getattr(options, "inputs", None)
    refuse_own_inputs([("-o", a.output)], [("MODEL", a.model)] + ([("--inputs", inputs)] if isinstance(inputs, str)
                                                                   else []))
    model = _load(a.model)
    manifest = target.write(model, a.output, options, a.force)
    print(f"wrote {plural(len(manifest.files), 'file')} for {model.name} ({target.name}) to {a.output}")


def _parser_plugin(name: str) -> _Parser:
    from .plugins import COMMANDS as registry

    cmd = registry.get(name)
    p = _Parser(prog=f"kgen {name}", description=cmd.description)
    cmd.add_arguments(p)
    return p


def cli_parsers():
    """(command, parser) of every verb, every view's run and verify and every target (e.g. to check help)."""
    from .plugins import TARGETS, VIEWS

    for name in ("import", "eval", "info", "example", "train", "diff", "flow"):
        yield name, globals()[f"_parser_{name}"]()
    for name in VIEWS.names():
        yield f"run --view {name}", _parser_run(VIEWS.get(name))
        yield f"verify --view {name}", _parser_verify(VIEWS.get(name))
    for name in TARGETS.names():
        yield f"--target {name}", _parser_codegen(TARGETS.get(name))
    for name in _plugin_commands():
        parser = _parser_plugin(name)
        yield name, parser
        for action in parser._actions:  # a verb with sub-verbs (`kgen fpga report`): each one's own flags
            if isinstance(action, argparse._SubParsersAction):
                for verb, sub in action.choices.items():
                    yield f"{name} {verb}", sub


def _plugin_command(name: str):
    def run(argv):
        from .plugins import COMMANDS as registry

        p = _parser_plugin(name)
        rc = registry.get(name).main(p.parse_args(argv))
        if rc:
            raise SystemExit(rc)
    return run


def _dispatch_table() -> dict:
    table = {"import": cmd_import, "run": cmd_run, "eval": cmd_eval, "info": cmd_info, "example": cmd_example,
             "train": cmd_train, "verify": cmd_verify, "diff": cmd_diff, "flow": cmd_flow}
    for name in _plugin_commands():
        table[name] = _plugin_command(name)
    return table


def dispatch(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(_overview(), end="")
        return
    if argv[0] == "--version":
        print(f"kgen {__version__}")
        return
    if argv[0] in CORE_VERBS or (not argv[0].startswith("-") and argv[0] in _plugin_commands()):
        _dispatch_table()[argv[0]](argv[1:])
        return
    if any(a == "--target" or a.startswith("--target=") for a in argv):
        cmd_codegen(argv)
        return
    raise InputError(expected_found("command", "a verb (" + ", ".join(verbs()) + ") or --target TARGET MODEL -o DIR",
                                    repr(argv[0])))


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done (or the check passed), 1 a check failed, 2 bad input or usage, 130 interrupted."""
    import warnings

    from .errors import CheckFailed

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    # Libraries' warnings (torch, NumPy, ...) are not kgen's words: shown with --debug only, never
    # as extra lines around the one-line error.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            dispatch(argv)
            status = 0
        except KgenError as exc:
            if debug:
                traceback.print_exc()
            # one line, whatever a message quotes (a file's bytes, a library's text)
            print("kgen: error: " + " ".join(str(exc).split()), file=sys.stderr)
            status = 1 if isinstance(exc, CheckFailed) else 2
        except KeyboardInterrupt:
            print("kgen: interrupted", file=sys.stderr)
            status = 130
        except BrokenPipeError:  # `kgen info M | head`: the reader left; nothing is wrong
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            status = 0
        finally:
            if debug:
                for w in caught:
                    print(f"kgen: debug: {w.category.__name__}: {w.message} ({w.filename}:{w.lineno})",
                          file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())

"""The kgen command line.

Two shapes share one entry point:

    kgen --target T MODEL -o DIR [target options]   code generation
    kgen VERB ...                                   import, run, eval, info, ...

argparse subparsers alone would read MODEL as a verb, so the first word is
dispatched by hand. Every KgenError becomes one line on stderr and exit 2;
`--debug` shows the traceback instead. Heavy modules (torch, amaranth,
cocotb) are imported inside the commands, so `kgen --help` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from . import __version__
from .errors import InputError, KgenError, expected_found

VERBS = {
    "import": "convert an original config.yaml + model.pth to a kgen model file",
    "run": "run a model on inputs and write its outputs",
    "eval": "score a model on its task (held-out NLL, density loss, accuracy)",
    "info": "print nodes, edges, device kinds, parameters and the digest",
    "example": "write the bundled example circuit as a model file",
    "train": "train a KirchhoffNet (digits classifier or a 2-D flow) and write the model file",
    "verify": "compare a view (spice, veriloga, ...) with the float reference at every window boundary",
    "quantize": "choose fixed-point formats and Euler steps; store them in the model, write a report",
    "diff": "compare two traces; name the first diverging step and node and the cause",
}

OVERVIEW = f"""usage: kgen [--debug] --target TARGET MODEL -o DIR [target options]
       kgen [--debug] VERB [options]

kgen {__version__}: turn a trained KirchhoffNet into hardware.

MODEL is a kgen model file or a folder holding an original config.yaml + model.pth.

verbs:
""" + "".join(f"  {verb:<9} {text}\n" for verb, text in VERBS.items()) + """
code generation:
  kgen --target TARGET --help   lists a target's options

Run `kgen VERB --help` for a verb's options.
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as the one-line kgen error (exit 2)."""

    def error(self, message):
        raise InputError(f"{self.prog}: {message}")


def _progress(done: int, total: int) -> None:
    print(f"\r  {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


# -- verbs -------------------------------------------------------------------

def cmd_import(argv):
    p = _Parser(prog="kgen import", description=VERBS["import"])
    p.add_argument("config", help="the original config.yaml")
    p.add_argument("pth", help="the original model.pth")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    a = p.parse_args(argv)
    from .modelfile import save_model
    from .original import import_original

    circuit = import_original(a.config, a.pth)
    digest = save_model(circuit, a.output)
    print(f"imported {circuit.name}: {circuit.n_nodes} nodes, {circuit.n_edges} edges, "
          f"{len(circuit.windows)} windows, {circuit.n_parameters()} parameters -> {a.output} ({digest[:12]})")


def _load(model: str):
    from .original import load_any

    return load_any(model)


def cmd_run(argv):
    from .views import view_names

    p = _Parser(prog="kgen run", description=VERBS["run"])
    p.add_argument("model")
    p.add_argument("--inputs", required=True, help="(batch, n_inputs) .npy array")
    p.add_argument("-o", "--output", required=True, help="(batch, n_outputs) .npy array to write")
    p.add_argument("--view", default="float", help="one of: " + ", ".join(view_names()))
    p.add_argument("--method", help="ODE solver (float view): dopri5, euler, rk4, ... (default: the model's)")
    p.add_argument("--rtol", type=float)
    p.add_argument("--atol", type=float)
    p.add_argument("--steps", type=int, help="steps per window for fixed-step methods")
    p.add_argument("--dtype", choices=("float32", "float64"))
    p.add_argument("--trace", help="write every step's node voltages to this .npz (float and fixed views)")
    p.add_argument("--reverse", action="store_true",
                   help="integrate from the last window back to the first (flow models: noise -> samples); "
                        "float and fixed views")
    p.add_argument("--sim", choices=("icarus", "verilator"), help="rtl view: the simulator (default icarus)")
    p.add_argument("--lanes", type=int, help="rtl view: parallel edge lanes (default: the model's choice, else 1)")
    p.add_argument("--chained", action="store_true", help="spice and veriloga views: one transient per window")
    a = p.parse_args(argv)
    from .arrays import read_inputs, write_array
    from .views import RunOptions, get_view

    view = get_view(a.view)
    circuit = _load(a.model)
    x = read_inputs(a.inputs, len(circuit.inputs))
    if a.steps is not None and a.steps < 1:
        raise InputError(expected_found("--steps", "a positive step count", str(a.steps)))
    if (a.trace or a.reverse) and a.view not in ("float", "fixed", "rtl"):
        raise InputError(expected_found("--trace / --reverse", "the float, fixed or rtl view", f"--view {a.view}"))
    if (a.sim or a.lanes) and a.view != "rtl":
        raise InputError(expected_found("--sim / --lanes", "the rtl view", f"--view {a.view}"))
    if a.chained and a.view not in ("spice", "veriloga"):
        raise InputError(expected_found("--chained", "the spice or veriloga view", f"--view {a.view}"))
    opts = RunOptions(method=a.method, rtol=a.rtol, atol=a.atol, dtype=a.dtype, trace=a.trace,
                      extra=(("steps_per_window", a.steps), ("reverse", a.reverse), ("model_path", a.model),
                             ("sim", a.sim), ("lanes", a.lanes), ("chained", a.chained)))
    y = view(circuit, x, opts)
    write_array(a.output, y)
    print(f"ran {circuit.name} ({a.view} view) on {x.shape[0]} inputs -> {a.output} {tuple(y.shape)}")


def cmd_eval(argv):
    p = _Parser(prog="kgen eval", description=VERBS["eval"])
    p.add_argument("model")
    p.add_argument("--task", required=True, help="twomoon, 8gaussians, pinwheel, swissroll, circle, 2spirals, "
                                                 "potential1, potential2, mnist, digits")
    p.add_argument("--samples", type=int, default=20000, help="fresh samples for the toy tasks (default 20000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", help="MNIST test images (IDX, e.g. t10k-images-idx3-ubyte[.gz])")
    p.add_argument("--labels", help="MNIST test labels (IDX)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    from .datasets import read_idx
    from .evaluate import evaluate

    if a.samples < 1:
        raise InputError(expected_found("--samples", "a positive count", str(a.samples)))
    circuit = _load(a.model)
    images = labels = None
    if a.images or a.labels:
        if not (a.images and a.labels):
            raise InputError(expected_found("MNIST data", "both --images and --labels", "only one of them"))
        images = read_idx(a.images).reshape(-1, 28 * 28).astype("float64") / 255.0
        labels = read_idx(a.labels).astype("int64")
        if len(images) != len(labels):
            raise InputError(expected_found("MNIST labels", f"{len(images)} labels", str(len(labels))))
    res = evaluate(circuit, a.task, a.samples, a.seed, images, labels, progress=_progress)
    if a.json:
        print(json.dumps(res.as_dict(), sort_keys=True))
    else:
        extra = "".join(f", {k} {v:.4g}" for k, v in res.extra.items())
        print(f"{circuit.name} on {res.task}: {res.metric} {res.value:.4f} over {res.n_samples} samples{extra}")


def info_dict(circuit) -> dict:
    import numpy as np

    from .devices import DEVICE_KINDS
    from .modelfile import circuit_digest

    windows = []
    for w, win in enumerate(circuit.windows):
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
        "name": circuit.name, "task": circuit.task.value, "digest": circuit_digest(circuit),
        "nodes": circuit.n_nodes, "edges": circuit.n_edges, "inputs": len(circuit.inputs),
        "outputs": len(circuit.outputs), "parameters": circuit.n_parameters(), "kinds": list(circuit.kinds),
        "capacitance": {"min": float(np.min(circuit.capacitance)), "max": float(np.max(circuit.capacitance))},
        "windows": windows,
        "defaults": {"method": circuit.defaults.method, "rtol": circuit.defaults.rtol,
                     "atol": circuit.defaults.atol, "dtype": circuit.defaults.dtype},
    }


def cmd_info(argv):
    p = _Parser(prog="kgen info", description=VERBS["info"])
    p.add_argument("model")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    d = info_dict(_load(a.model))
    if a.json:
        print(json.dumps(d, indent=2, sort_keys=True))
        return
    print(f"{d['name']} ({d['task']})  digest {d['digest']}")
    print(f"  nodes {d['nodes']} (inputs {d['inputs']}, outputs {d['outputs']}), edges {d['edges']}, "
          f"parameters {d['parameters']}, capacitance {d['capacitance']['min']:g}..{d['capacitance']['max']:g}")
    print(f"  solver default: {d['defaults']['method']} rtol {d['defaults']['rtol']:g} atol {d['defaults']['atol']:g}")
    for w, win in enumerate(d["windows"]):
        kinds = ", ".join(f"{k} x{v['edges']} [{v['param_min']:.4g}, {v['param_max']:.4g}]"
                          for k, v in win["kinds"].items())
        print(f"  window {w} [{win['t_start']:g}, {win['t_end']:g}]: {win['edges']} edges: {kinds}")


def cmd_example(argv):
    p = _Parser(prog="kgen example", description=VERBS["example"])
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--seed", type=int, help="a random circuit of this seed instead of the demo circuit")
    a = p.parse_args(argv)
    from .examples import demo_circuit, random_circuit
    from .modelfile import save_model

    circuit = demo_circuit() if a.seed is None else random_circuit(a.seed)
    digest = save_model(circuit, a.output)
    print(f"wrote {circuit.name}: {circuit.n_nodes} nodes, {circuit.n_edges} edges, {len(circuit.windows)} windows, "
          f"kinds {', '.join(circuit.kinds)} -> {a.output} ({digest[:12]})")


def cmd_verify(argv):
    from .verify import cmd_verify as run_verify

    run_verify(argv, _Parser)


def cmd_train(argv):
    p = _Parser(prog="kgen train", description=VERBS["train"])
    p.add_argument("--task", required=True, help="digits, or a 2-D flow: twomoon, 8gaussians, pinwheel, swissroll, "
                                                 "circle, 2spirals")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--epochs", type=int, default=8, help="digits: passes over the training split")
    p.add_argument("--iterations", type=int, default=500, help="flows: batches of fresh samples")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from .datasets import TOY_SETS, digits, toy_samples
    from .modelfile import save_model
    from .model import SolverOptions
    from .train import TrainConfig, digits_circuit, toy_flow_circuit, train_classifier, train_flow

    def report(step, total, loss):
        print(f"  {step}/{total}: loss {loss:.4f}", file=sys.stderr, flush=True)

    if a.task == "digits":
        cfg = TrainConfig(epochs=a.epochs, lr=a.lr or 1e-2, batch_size=a.batch_size or 64, seed=a.seed)
        x, y, _, _ = digits(a.seed)
        circuit = train_classifier(digits_circuit(a.seed), x, y, cfg, report)
    elif a.task in TOY_SETS:
        cfg = TrainConfig(lr=a.lr or 5e-3, batch_size=a.batch_size or 512, seed=a.seed,
                          solver=SolverOptions(method="rk4", steps_per_window=8, dtype="float32"))
        circuit = train_flow(toy_flow_circuit(a.task, a.seed),
                             lambda n, it: toy_samples(a.task, n, seed=a.seed * 1_000_003 + it + 1),
                             cfg, a.iterations, report)
    else:
        raise InputError(expected_found("--task", "digits or one of " + ", ".join(TOY_SETS), repr(a.task)))
    digest = save_model(circuit, a.output)
    print(f"trained {circuit.name}: {circuit.n_nodes} nodes, {circuit.n_edges} edges -> {a.output} ({digest[:12]})")


def cmd_quantize(argv):
    from .emulation.cli import quantize_command

    quantize_command(argv, _Parser, VERBS["quantize"])


def cmd_diff(argv):
    from .emulation.cli import diff_command

    diff_command(argv, _Parser, VERBS["diff"])


COMMANDS = {"import": cmd_import, "run": cmd_run, "eval": cmd_eval, "info": cmd_info, "example": cmd_example,
            "verify": cmd_verify, "train": cmd_train, "quantize": cmd_quantize, "diff": cmd_diff}


def cmd_codegen(argv):
    from .codegen_cli import run_codegen

    run_codegen(argv, _Parser)


def dispatch(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(OVERVIEW, end="")
        return
    if argv[0] == "--version":
        print(f"kgen {__version__}")
        return
    if argv[0] in COMMANDS:
        COMMANDS[argv[0]](argv[1:])
        return
    if any(a == "--target" or a.startswith("--target=") for a in argv):
        cmd_codegen(argv)
        return
    raise InputError(expected_found("command", "a verb (" + ", ".join(COMMANDS) + ") or --target TARGET MODEL -o DIR",
                                    repr(argv[0])))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        dispatch(argv)
    except KgenError as exc:
        if debug:
            traceback.print_exc()
        print(f"kgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kgen: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

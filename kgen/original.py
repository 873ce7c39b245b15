"""Import of the original KirchhoffNet checkpoints (config.yaml + model.pth).

Converts devices, topologies and lastN / firstN projectors into a Circuit and
rejects, with one clear line, what kgen does not model: encoders, mlp or
reshape projectors, residual connections, `fill: repeat`, node sets that
shrink between windows.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .circuit import Circuit, ModelTask, SolverDefaults, Window
from .devices import DEVICE_KINDS, Activation, device_kind
from .errors import InputError, UnsupportedError, expected_found
from .topology import generate

FLOW_BENCHES = {"twomoon", "8gaussians", "pinwheel", "swissroll", "circle", "2spirals", "gauss", "genmnist"}
DENSITY_BENCHES = {"potential1", "potential2"}
CLASSIFIER_BENCHES = {"mnist", "cifar10", "cifar100", "svhn", "tinyimage"}


def read_config(path: Path) -> dict:
    import yaml

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(expected_found("config", "an existing YAML file", f"no file {path}")) from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(expected_found(f"config {path}", "valid YAML", f"a parse error{where}")) from None
    if not isinstance(config, dict) or not isinstance(config.get("network"), dict) \
            or not isinstance(config.get("simulation"), dict):
        raise InputError(expected_found(f"config {path}", "a mapping with 'network' and 'simulation' sections",
                                        type(config).__name__ if not isinstance(config, dict)
                                        else "keys " + ", ".join(map(str, config))))
    return config


def read_state_dict(path: Path) -> dict:
    import torch

    if not path.is_file():
        raise InputError(expected_found("checkpoint", "an existing model.pth", f"no file {path}"))
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(expected_found(f"checkpoint {path}", "a PyTorch state_dict archive", first)) from None
    if not isinstance(state, dict):
        raise InputError(expected_found(f"checkpoint {path}", "a state_dict", type(state).__name__))
    return state


def _device_name(model: dict) -> str:
    name, args = model.get("name"), model.get("args") or {}
    if name == "Device":
        act = args.get("activation") or "identity"
        try:
            act_enum = Activation(act)
        except ValueError:
            raise UnsupportedError(expected_found("Device activation", "identity, relu, leaky_relu or tanh",
                                                  repr(act))) from None
        camel = "".join(part.capitalize() for part in act_enum.value.split("_"))
        return ("Diff" if args.get("negation", False) else "Affine") + camel
    if args:
        raise UnsupportedError(expected_found(f"arguments of device {name}", "none", repr(args)))
    return device_kind(str(name)).name


def _check_unsupported(config: dict) -> None:
    net = config["network"]
    if net.get("encoder") not in (None, "none"):
        raise UnsupportedError(expected_found("network.encoder", "none", repr(net["encoder"])))
    if net.get("residual") not in (None, "none"):
        raise UnsupportedError(expected_found("network.residual", "none", repr(net["residual"])))
    if net.get("fill") not in (None, "zeros", "zero"):
        raise UnsupportedError(expected_found("network.fill", "zeros", repr(net["fill"])))


def _outputs(projector, n_nodes: int) -> list[int]:
    nodes = list(range(1, n_nodes + 1))
    for proj in projector if isinstance(projector, list) else [projector]:
        if proj in (None, "none"):
            continue
        m = re.fullmatch(r"(last|first)(\d+)", str(proj))
        if not m:
            raise UnsupportedError(expected_found("network.projector", "none, lastN or firstN", repr(proj)))
        k = int(m.group(2))
        if not 1 <= k <= len(nodes):
            raise InputError(expected_found("network.projector", f"at most {len(nodes)} nodes", str(proj)))
        nodes = nodes[-k:] if m.group(1) == "last" else nodes[:k]
    return nodes


def _input_width(config: dict, struct0: dict, n0: int) -> int:
    """How many leading nodes the data drives: pixels for image topologies, else the first window's nodes."""
    bench = config.get("test_bench")
    if bench in FLOW_BENCHES | DENSITY_BENCHES - {"genmnist"}:
        return n0
    args = struct0.get("args") or {}
    if struct0.get("name", "").lstrip("_") in ("mix_connect", "neighbor", "neighbor_index"):
        return int(args["num_channel"]) * int(args["width"]) * int(args["height"]) * int(args.get("parallel", 1))
    return n0


def _task(config: dict) -> ModelTask:
    bench = config.get("test_bench")
    if bench in FLOW_BENCHES:
        return ModelTask.FLOW
    if bench in DENSITY_BENCHES:
        return ModelTask.DENSITY
    if bench in CLASSIFIER_BENCHES:
        return ModelTask.CLASSIFIER
    return ModelTask.GENERIC


def import_original(config_path: str | Path, pth_path: str | Path) -> Circuit:
    config_path, pth_path = Path(config_path), Path(pth_path)
    config = read_config(config_path)
    _check_unsupported(config)
    net, sim = config["network"], config["simulation"]
    kind = _device_name(net.get("model") or {})
    n_rows = DEVICE_KINDS[kind].n_rows
    structs = net.get("net_struct")
    if not isinstance(structs, list) or not structs:
        raise InputError(expected_found("network.net_struct", "a non-empty list of topologies", repr(structs)))
    try:
        t_end = [float(t) for t in sim["t_end"]]
    except (KeyError, TypeError, ValueError):
        raise InputError(expected_found("simulation.t_end", "a list of times", repr(sim.get("t_end")))) from None
    if len(t_end) != len(structs) + 1:
        raise InputError(expected_found("simulation.t_end", f"{len(structs) + 1} times (one per window boundary)",
                                        f"{len(t_end)}"))
    state = read_state_dict(pth_path)
    topologies = []
    for w, struct in enumerate(structs):
        if not isinstance(struct, dict) or "name" not in struct:
            raise InputError(expected_found(f"network.net_struct[{w}]", "a mapping with name and args", repr(struct)))
        topologies.append(generate(str(struct["name"]), dict(struct.get("args") or {})))
    max_nodes = [int(max(s.max(), d.max())) for s, d in topologies]
    for w in range(1, len(max_nodes)):
        if max_nodes[w] < max_nodes[w - 1]:
            raise UnsupportedError(expected_found(f"node set of window {w}",
                                                  f"at least the {max_nodes[w - 1]} nodes of window {w - 1}",
                                                  f"{max_nodes[w]} nodes (it shrinks)"))
    n_nodes = max_nodes[-1]

    src_all, des_all, windows = [], [], []
    offset, prev = 0, None
    for w, (src, des) in enumerate(topologies):
        key = f"circuit.layer_list.{w}.model.param"
        if key not in state:
            raise InputError(expected_found(f"checkpoint {pth_path}", f"a tensor {key}",
                                            "keys " + ", ".join(sorted(state)[:6])))
        param = state[key].detach().cpu().double().numpy()
        if param.shape != (n_rows, src.shape[0]):
            raise InputError(expected_found(f"{key}", f"shape ({n_rows}, {src.shape[0]}) for {kind} on "
                                                      f"{structs[w]['name']}", f"shape {tuple(param.shape)}"))
        if prev is not None and np.array_equal(prev[0], src) and np.array_equal(prev[1], des):
            edges = windows[-1].edges  # same topology as the previous window: share the edges
        else:
            edges = np.arange(offset, offset + src.shape[0])
            src_all.append(src)
            des_all.append(des)
            offset += src.shape[0]
            prev = (src, des)
        windows.append(Window(t_end[w], t_end[w + 1], edges, param))
    extra = sorted(set(state) - {f"circuit.layer_list.{w}.model.param" for w in range(len(structs))})
    if extra:
        raise UnsupportedError(expected_found(f"checkpoint {pth_path}", "only circuit parameters",
                                              "extra tensors " + ", ".join(extra[:4])))
    src, des = np.concatenate(src_all), np.concatenate(des_all)
    tol = float(sim.get("tol", 1e-3))
    n_in = _input_width(config, structs[0], max_nodes[0])
    return Circuit(
        n_nodes=n_nodes, capacitance=np.ones(n_nodes), src=src, des=des, kinds=(kind,),
        edge_kind=np.zeros(src.shape[0], np.int64), windows=tuple(windows),
        inputs=tuple(range(1, n_in + 1)), outputs=tuple(_outputs(net.get("projector"), n_nodes)),
        task=_task(config), name=str(config.get("test_bench") or config_path.parent.name),
        defaults=SolverDefaults(method=str(sim.get("method", "dopri5")), rtol=tol, atol=tol, dtype="float32"))


def load_any(path: str | Path) -> Circuit:
    """MODEL as every command takes it: a kgen model file, or a folder with config.yaml + model.pth."""
    from .modelfile import load_model

    path = Path(path)
    if path.is_dir():
        cfg, pth = path / "config.yaml", path / "model.pth"
        if cfg.is_file() and pth.is_file():
            return import_original(cfg, pth)
        raise InputError(expected_found(f"model folder {path}", "config.yaml and model.pth inside",
                                        ", ".join(sorted(p.name for p in path.iterdir())) or "an empty folder"))
    return load_model(path)

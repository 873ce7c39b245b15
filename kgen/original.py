"""Import of the original KirchhoffNet checkpoints (config.yaml + model.pth).

Converts devices, topologies and lastN / firstN projectors into a Circuit and
rejects, with one clear line, what kgen does not model: encoders, mlp or
reshape projectors, residual connections, node sets that shrink between
windows, and `fill: repeat` on a node set that grows after the first window
(the original tiles the state there, not the data).

The data width comes from the test bench (MNIST images are 784 values, the
regression sets 5, 8 or 10 features); where the first window has more nodes
than that, the original's `fill` decides: `zeros` drives the first nodes and
leaves the rest at 0 V, `repeat` tiles the data over all of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .circuit import Circuit, Fill, ModelTask, Window
from .solver import Solver
from .devices import DEVICE_KINDS, Activation, device_kind
from .errors import InputError, UnsupportedError, expected_found
from .topology import generate

FLOW_BENCHES = {"twomoon", "8gaussians", "pinwheel", "swissroll", "circle", "2spirals", "gauss", "genmnist"}
DENSITY_BENCHES = {"potential1", "potential2"}
CLASSIFIER_BENCHES = {"mnist", "cifar10", "cifar100", "svhn", "tinyimage"}
#: What the original's non-flow test benches feed the circuit (flattened images, regression features).
DATA_WIDTH = {"mnist": 784, "cifar10": 3072, "cifar100": 3072, "svhn": 3072, "tinyimage": 12288,
              "toyregress": 5, "housing": 8, "diabete": 10}


#: The keys the original's config.yaml files use (the ten reference configs), by section; anything else is
#: refused with its path, so a typo never imports silently.
KNOWN_KEYS = {
    "": ("batch_size", "network", "num_worker", "simulation", "test", "test_bench", "train", "visualization"),
    "network": ("adjoint", "encoder", "fill", "initialization", "model", "net_struct", "projector", "residual"),
    "network.model": ("args", "name"),
    "simulation": ("first_step", "method", "min_step", "step_size", "t_end", "tol"),
    "test": ("metric",),
    "train": ("lr", "num_epoch", "save_epoch", "scheduler"),
    "visualization": ("num_sample",),
}


def check_keys(config: dict, path: Path, known: dict[str, tuple[str, ...]] = KNOWN_KEYS) -> None:
    """Every key of every known section is one the original uses (one line naming the first unknown one)."""
    for section, keys in known.items():
        node = config
        for part in [p for p in section.split(".") if p]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        unknown = sorted(str(k) for k in node if k not in keys)
        if unknown:
            where = f"{section}.{unknown[0]}" if section else unknown[0]
            raise InputError(expected_found(f"config {path}", f"keys of {section or 'the top level'} among "
                                            + ", ".join(keys), f"{where}"))


def read_config(path: Path) -> dict:
    import yaml

    if path.is_dir():
        raise InputError(expected_found("config", "a YAML file", f"a directory {path}"))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(expected_found("config", "an existing YAML file", f"no file {path}")) from None
    except UnicodeDecodeError:
        raise InputError(expected_found(f"config {path}", "UTF-8 text (YAML)", "bytes that are not UTF-8")) from None
    except OSError as exc:
        raise InputError(expected_found(f"config {path}", "a readable YAML file",
                                        exc.strerror or type(exc).__name__)) from None
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


def _looks_like(head: bytes) -> str:
    """What a file that torch cannot load looks like (kgen's own words: never torch's unsafe advice)."""
    if head.startswith(b"PK\x03\x04"):
        return "a damaged zip archive or one torch.save did not write"
    if head[:1] == b"\x80":
        return "a damaged or foreign pickle"
    try:
        head.decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return "bytes of another format"


def read_state_dict(path: Path) -> dict:
    import torch

    if not path.is_file():
        raise InputError(expected_found("checkpoint", "an existing model.pth", f"no file {path}"))
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # torch raises RuntimeError, UnpicklingError, EOFError, ... with advice kgen does not repeat
        with open(path, "rb") as fh:
            head = fh.read(512)
        raise InputError(expected_found(f"checkpoint {path}", "a PyTorch state_dict archive",
                                        _looks_like(head) if head else "an empty file")) from None
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
    if net.get("fill") not in (None, "zeros", "zero", "repeat"):
        raise UnsupportedError(expected_found("network.fill", "zeros or repeat", repr(net["fill"])))


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


def _data_width(config: dict, struct0: dict, n0: int) -> int:
    """The width of the data the test bench feeds: its known width, pixels for image topologies,
    else the first window's nodes (flows and density models sample their whole state)."""
    bench = config.get("test_bench")
    if bench in FLOW_BENCHES | DENSITY_BENCHES - {"genmnist"}:
        return n0
    if bench in DATA_WIDTH:
        return DATA_WIDTH[bench]
    args = struct0.get("args") or {}
    if struct0.get("name", "").lstrip("_") in ("mix_connect", "neighbor", "neighbor_index"):
        return int(args["num_channel"]) * int(args["width"]) * int(args["height"]) * int(args.get("parallel", 1))
    return n0


def _inputs(config: dict, data_width: int, max_nodes: list[int]) -> tuple[tuple[int, ...], Fill, int | None]:
    """(input nodes, fill, data width under repeat) by the original's fill rule."""
    n0 = max_nodes[0]
    if data_width > n0:
        raise UnsupportedError(expected_found(f"data of test bench {config.get('test_bench')!r}",
                                              f"at most the first window's {n0} nodes", f"{data_width} values"))
    repeat = config["network"].get("fill") == "repeat"
    if not repeat or data_width == n0:
        return tuple(range(1, data_width + 1)), Fill.ZEROS, None
    grows = next((w for w in range(1, len(max_nodes)) if max_nodes[w] > n0), None)
    if grows is not None:
        raise UnsupportedError(expected_found(f"node set of window {grows} under network.fill repeat",
                                              f"the first window's {n0} nodes (the original tiles the state there)",
                                              f"{max_nodes[grows]} nodes"))
    return tuple(range(1, n0 + 1)), Fill.REPEAT, data_width


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
    check_keys(config, config_path)
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
    inputs, fill, data_width = _inputs(config, _data_width(config, structs[0], max_nodes[0]), max_nodes)
    return Circuit(
        n_nodes=n_nodes, capacitance=np.ones(n_nodes), src=src, des=des, kinds=(kind,),
        edge_kind=np.zeros(src.shape[0], np.int64), windows=tuple(windows), inputs=inputs, fill=fill,
        data_width=data_width, outputs=tuple(_outputs(net.get("projector"), n_nodes)),
        task=_task(config), name=str(config.get("test_bench") or config_path.parent.name),
        defaults=Solver(method=str(sim.get("method", "dopri5")), rtol=tol, atol=tol, dtype="float32"))


def load_original_folder(path: Path) -> Circuit:
    """A folder holding an original config.yaml + model.pth (MODEL as every command takes it)."""
    cfg, pth = path / "config.yaml", path / "model.pth"
    if cfg.is_file() and pth.is_file():
        return import_original(cfg, pth)
    raise InputError(expected_found(f"model folder {path}", "config.yaml and model.pth inside",
                                    ", ".join(sorted(p.name for p in path.iterdir())) or "an empty folder"))

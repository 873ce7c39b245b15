"""The flow file: which model, which inputs, and each step's options, validated before anything runs.

    model: m.kgen | ORIGINAL_FOLDER | {train: {task: twomoon, iterations: 60}}
           | {import: {config: c.yaml, checkpoint: m.pth}}
    inputs: {samples: 8, seed: 0} | {file: X.npy}
    steps:
      verify-spice: {tol: 1e-4}         # options are the flags of the step's kgen command
      quantize: {samples: 300}
      export-veriloga: false            # a step turned off

Every key is checked: unknown top-level keys, unknown steps and options the step's command does not
take are refused with the key's path, so a typo never runs a default silently. Paths are relative to
the flow file. A model given alone (`kgen flow M.kgen`) gets the defaults: every step that applies.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from kgen.errors import InputError, expected_found

# Every step in the order the flow lists them (dependencies point backwards only).
STEP_NAMES = ("model", "inputs", "evaluate", "float", "export-spice", "export-veriloga", "verify-spice",
              "verify-veriloga", "monte-carlo", "quantize", "fixed", "export-verilog", "verify-rtl", "fpga-report",
              "report")
TOP_KEYS = ("model", "inputs", "steps")
DEFAULT_SAMPLES = 8


class ModelSource(enum.Enum):
    GIVEN = "given"  # a kgen model file
    ORIGINAL = "import"  # an original KirchhoffNet folder (config.yaml + model.pth) or config + checkpoint
    TRAIN = "train"


@dataclass(frozen=True)
class ModelSpec:
    source: ModelSource
    path: Path | None = None  # GIVEN / ORIGINAL folder
    config: Path | None = None  # ORIGINAL from two files
    checkpoint: Path | None = None
    train: tuple = ()  # TRAIN: (option, value) pairs for `kgen train`

    def source_files(self) -> list[Path]:
        """The files whose content decides the model (hashed into the model step's key)."""
        if self.source is ModelSource.GIVEN:
            return [self.path]
        if self.source is ModelSource.ORIGINAL:
            if self.path is not None:
                return sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".pth"))
            return [self.config, self.checkpoint]
        return []


@dataclass(frozen=True)
class InputsSpec:
    samples: int = DEFAULT_SAMPLES
    seed: int = 0
    file: Path | None = None


@dataclass(frozen=True)
class FlowSpec:
    origin: str  # the flow file, or "defaults for MODEL"
    model: ModelSpec
    inputs: InputsSpec = InputsSpec()
    options: dict = field(default_factory=dict)  # step -> {option: value} (validated against its command)
    disabled: frozenset = frozenset()

    def enabled(self, step: str) -> bool:
        return step not in self.disabled


def _where(origin: str, key: str) -> str:
    return f"flow file {origin}: {key}"


def _mapping(value, origin: str, key: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(expected_found(_where(origin, key), "a mapping", type(value).__name__))
    return value


def _unknown(d: dict, allowed, origin: str, key: str) -> None:
    for k in d:
        if k not in allowed:
            raise InputError(expected_found(_where(origin, f"{key}.{k}" if key else str(k)),
                                            "one of " + ", ".join(allowed), f"unknown key {k!r}"))


def _path(value, base: Path, origin: str, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(expected_found(_where(origin, key), "a path", repr(value)))
    p = Path(value)
    p = p if p.is_absolute() else base / p
    if not p.exists():
        raise InputError(expected_found(_where(origin, key), "an existing file or folder", f"nothing at {p}"))
    return p


def _model(value, base: Path, origin: str) -> ModelSpec:
    if isinstance(value, str):
        p = _path(value, base, origin, "model")
        return ModelSpec(ModelSource.ORIGINAL, path=p) if p.is_dir() else ModelSpec(ModelSource.GIVEN, path=p)
    d = _mapping(value, origin, "model")
    if len(d) != 1 or next(iter(d)) not in ("train", "import"):
        raise InputError(expected_found(_where(origin, "model"), "a path, {train: {...}} or {import: {...}}",
                                        ", ".join(map(str, d)) or "an empty mapping"))
    kind, body = next(iter(d.items()))
    body = _mapping(body, origin, f"model.{kind}")
    if kind == "import":
        _unknown(body, ("config", "checkpoint"), origin, "model.import")
        if set(body) != {"config", "checkpoint"}:
            raise InputError(expected_found(_where(origin, "model.import"), "config and checkpoint",
                                            ", ".join(body) or "neither"))
        return ModelSpec(ModelSource.ORIGINAL, config=_path(body["config"], base, origin, "model.import.config"),
                         checkpoint=_path(body["checkpoint"], base, origin, "model.import.checkpoint"))
    if "task" not in body:
        raise InputError(expected_found(_where(origin, "model.train"), "a task", "none"))
    return ModelSpec(ModelSource.TRAIN, train=tuple(sorted(body.items())))


def _inputs(value, base: Path, origin: str) -> InputsSpec:
    d = _mapping(value, origin, "inputs")
    _unknown(d, ("samples", "seed", "file"), origin, "inputs")
    if "file" in d:
        if set(d) != {"file"}:
            raise InputError(expected_found(_where(origin, "inputs"), "either file or samples/seed",
                                            ", ".join(d)))
        return InputsSpec(file=_path(d["file"], base, origin, "inputs.file"))
    samples, seed = d.get("samples", DEFAULT_SAMPLES), d.get("seed", 0)
    if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= 100_000:
        raise InputError(expected_found(_where(origin, "inputs.samples"), "a count in 1..100000", repr(samples)))
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2 ** 32:
        raise InputError(expected_found(_where(origin, "inputs.seed"), "a seed in 0..4294967295", repr(seed)))
    return InputsSpec(samples=samples, seed=seed)


def _steps(value, origin: str) -> tuple[dict, frozenset]:
    d = _mapping(value, origin, "steps")
    options, disabled = {}, set()
    configurable = [s for s in STEP_NAMES if s not in ("model", "inputs", "report")]
    for name, body in d.items():
        if name not in configurable:
            raise InputError(expected_found(_where(origin, "steps"), "steps among " + ", ".join(configurable),
                                            f"{name!r}"))
        if body is False:
            disabled.add(name)
            continue
        if body is True:
            body = {}
        options[name] = dict(_mapping(body, origin, f"steps.{name}"))
        for k, v in options[name].items():
            if not isinstance(k, str) or not (v is None or isinstance(v, (str, int, float, bool, list))):
                raise InputError(expected_found(_where(origin, f"steps.{name}.{k}"), "a number, string, flag or "
                                                "list", type(v).__name__))
    return options, frozenset(disabled)


def load_flow_file(path: Path) -> FlowSpec:
    import yaml

    origin = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise InputError(expected_found(f"flow file {origin}", "UTF-8 text (YAML)", "bytes that are not UTF-8"))
    except yaml.YAMLError as exc:
        raise InputError(expected_found(f"flow file {origin}", "YAML", " ".join(str(exc).split())))
    doc = _mapping(doc, origin, "the document")
    _unknown(doc, TOP_KEYS, origin, "")
    if "model" not in doc:
        raise InputError(expected_found(f"flow file {origin}", "a model: entry (a path, train or import)",
                                        "none"))
    base = path.parent
    options, disabled = _steps(doc.get("steps"), origin)
    return FlowSpec(origin, _model(doc["model"], base, origin), _inputs(doc.get("inputs"), base, origin),
                    options, disabled)


def is_flow_file(path: Path) -> bool:
    """A YAML file whose top level is the flow file's (an original KirchhoffNet config is not)."""
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return True  # let the loader name the problem
    return isinstance(doc, dict) and ("model" in doc or "steps" in doc)


def flow_for(target: str) -> FlowSpec:
    """The flow for what the user named: a flow file, or a model (file or original folder) with the defaults."""
    path = Path(target)
    if not path.exists():
        raise InputError(expected_found("flow", "a flow file (.yaml), a kgen model or an original folder",
                                        f"nothing at {target}"))
    if is_flow_file(path):
        return load_flow_file(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        raise InputError(expected_found(f"flow file {target}", "a model: or steps: entry (an original "
                                        "KirchhoffNet config goes with its model.pth: pass the folder)",
                                        "neither"))
    origin = f"defaults for {target}"
    if path.is_dir():
        return FlowSpec(origin, ModelSpec(ModelSource.ORIGINAL, path=path))
    return FlowSpec(origin, ModelSpec(ModelSource.GIVEN, path=path))

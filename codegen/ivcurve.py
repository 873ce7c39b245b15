"""A compiled Verilog-A device model's I-V curve, evaluated through OSDI (PyPI osdi-py).

`compile_device` writes one kind's single-window module and compiles it with
openvaf-r; `DeviceModel.currents` sets the instance parameters and evaluates
the resistive residual at (v_src, v_des) points with gmin = 0: the current
leaving src, which is the device current i(v_src, v_des).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from kgen.devices import DEVICE_KINDS
from kgen.errors import ToolError, expected_found

from .netlist import identifier
from .tools import OPENVAF
from .veriloga import write_module


def compile_device(kind: str, folder: Path) -> Path:
    """Write and compile kind's module (one window, model units); returns the .osdi path."""
    folder = Path(folder).resolve()
    module = write_module(folder, kind, identifier(kind), (), 1.0,
                          header={"name": f"I-V of {kind}", "digest": "-", "details": []})
    osdi = folder / f"{module}.osdi"
    log = folder / f"{module}.log"
    with open(log, "wb") as fh:
        proc = subprocess.run([str(OPENVAF.find()), f"{module}.va", "-o", osdi.name], cwd=folder,
                              stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0 or not osdi.is_file():
        raise ToolError(f"openvaf-r failed (exit status {proc.returncode}); log: {log}")
    return osdi


class DeviceModel:
    """One compiled device, one instance with the given parameters (rows used by the kind, window 0)."""

    def __init__(self, osdi: Path, kind: str, params: np.ndarray):
        try:
            import osdi_py
        except ImportError:
            raise ToolError(expected_found("osdi_py", "the Python package", "none (install: pip install osdi-py)"))
        self._osdi = osdi_py
        self.library = osdi_py.OsdiLibrary(str(osdi))
        ids = {p["name"]: i for i, p in enumerate(self.library.get_params())}
        self.model = self.library.create_model()  # the instance points into it: keep it alive
        self.model.process_params()
        self.instance = self.model.create_instance()
        self.instance.set_int_param(ids["on_w0"], 1)
        for p, value in zip(DEVICE_KINDS[kind].used_params, np.asarray(params, dtype=np.float64).tolist()):
            self.instance.set_real_param(ids[f"{p.name}_w0"], value)
        self.instance.process_params(300.15, 2)
        self.instance.init_node_mapping([0, 1])

    def currents(self, v_src: np.ndarray, v_des: np.ndarray) -> np.ndarray:
        o = self._osdi
        out = np.empty(len(v_src))
        for k, (a, b) in enumerate(zip(np.asarray(v_src, float).tolist(), np.asarray(v_des, float).tolist())):
            self.instance.eval(np.array([a, b]), o.CALC_RESIST_RESIDUAL | o.ANALYSIS_DC, 0.0, 0.0)
            residual = self.instance.load_residual_resist(np.zeros(2))
            out[k] = residual[0]  # current leaving src (and entering des: residual[1] = -residual[0])
        return out

"""The flow's one report: `report.json` (the figures) and `report.html` (the same, readable, self-contained).

Everything comes from the step folders: the model card from `kgen info --json`, each view's outputs
on the shared inputs (the float run's, the final states of the others' verify traces), the error
between every pair of views, each verify report against its contract, the task metric, the
fixed-point choices from the quantized model, the verify plots (embedded as data: URIs, so the
page needs no network and no other file), tool versions and step timings.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import platform
import re
import subprocess
from pathlib import Path

import numpy as np

from kgen import __version__
from kgen.codegen.environment import environment
from kgen.errors import KgenError
from kgen.fsutil import atomic_write_bytes

from .steps import INPUTS_FILE, MODEL_FILE

TEMPLATE = "flow/report.html.j2"
# view -> (step that produced it, contract in words)
VIEW_STEPS = (("float", "float", "the reference (torchdiffeq, the model's solver)"),
              ("spice", "verify-spice", "within 1e-4 V of the float reference at every window boundary"),
              ("veriloga", "verify-veriloga", "within 1e-4 V of the float reference at every window boundary"),
              ("fixed", "fixed", "within its derived bound of float Euler at every step"),
              ("rtl", "verify-rtl", "bit-identical to the fixed-point model at every step"))
PACKAGES = ("torch", "numpy", "torchdiffeq", "sympy", "jinja2", "amaranth", "cocotb", "scipy")


def TEMPLATE_FILES() -> dict[str, str]:
    """The report template's hash: a changed template re-renders the report."""
    return {TEMPLATE: hashlib.sha256(_template_source().encode()).hexdigest()}


def _template_source() -> str:
    env = environment()
    return env.loader.get_source(env, TEMPLATE)[0]


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _final_outputs(trace_path: Path, outputs: list[int]) -> np.ndarray:
    from kgen.trace import read_trace

    tr = read_trace(trace_path)
    return np.asarray(tr.v[-1][:, np.asarray(outputs) - 1], dtype=np.float64)


# how each external tool states its version
VERSION_FLAGS = {"kgen.codegen.tools:NGSPICE": "--version", "kgen.codegen.tools:VACASK": "-v",
                 "kgen.codegen.tools:OPENVAF": "--version", "kgen.hdl.tools:IVERILOG": "-V",
                 "kgen.hdl.tools:VERILATOR": "--version", "kgen.hdl.tools:YOSYS": "-V",
                 "kgen.hdl.fpga.tools:NEXTPNR_ICE40": "--version", "kgen.hdl.fpga.tools:NEXTPNR_ECP5": "--version"}


def _without_time(text: str) -> str:
    """A simulator description without its wall time (which differs run to run)."""
    return re.sub(r",? [0-9.]+ s\b", "", text)


def _tool_version(path: str, flag: str) -> str:
    from .steps import tool

    try:
        p = subprocess.run([str(tool(path).find()), flag], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, KgenError) as exc:
        return f"unknown ({type(exc).__name__})"
    lines = [ln.strip() for ln in (p.stdout + p.stderr).splitlines() if ln.strip() and not set(ln.strip()) <= {"*"}]
    return lines[0].strip("* ") if lines else "unknown"


def _versions(verifies: dict, deps, spec) -> dict:
    from .steps import STEPS

    out = {"kgen": __version__, "python": platform.python_version()}
    for step in deps:
        for path in STEPS[step].tools_for(spec):
            out[path.split(":")[1].lower()] = _tool_version(path, VERSION_FLAGS[path])
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    for view, rep in sorted(verifies.items()):
        if view != "float":
            out[f"{view} view"] = _without_time(rep["simulator"])
    return out


def collect(engine) -> dict:
    """The report's figures, as one JSON-ready mapping."""
    from kgen.modelfile import load_model

    folder, deps = engine.folder, engine.deps
    info = _json(folder("model") / "info.json")
    model = load_model(folder("model") / MODEL_FILE)
    outputs = list(model.circuit.outputs)
    x = np.load(folder("inputs") / INPUTS_FILE)
    views, verifies, results = [], {}, {}
    for view, step, contract in VIEW_STEPS:
        if step not in deps:
            continue
        if view == "float":
            y = np.load(folder(step) / "outputs.npy")
            rep = None
        else:
            rep = _json(folder(step) / "verify.json")
            verifies[view] = rep
            y = _final_outputs(folder(step) / "trace.npz", outputs)
        results[view] = y
        row = {"view": view, "step": step, "contract": contract, "outputs": y.tolist()}
        if "float" in results:
            row["vs_float"] = float(np.abs(y - results["float"]).max())
        if rep is not None:
            row.update({"passed": rep["passed"], "max_abs_error": rep["max_abs_error"],
                        "tolerance": rep["tolerance_text"], "reference": rep["reference"],
                        "simulator": _without_time(rep["simulator"])})
            if rep.get("argmax_agreement") is not None:  # classifiers: the task's answer, view against reference
                row["argmax_agreement"] = rep["argmax_agreement"]
        views.append(row)
    if "fixed" in results and "rtl" in results:
        for row in views:
            if row["view"] == "rtl":
                row["identical_to_fixed"] = bool(np.array_equal(results["rtl"], results["fixed"]))
                row["passed"] = row["passed"] and row["identical_to_fixed"]
    names = list(results)
    differences = {a: {b: float(np.abs(results[a] - results[b]).max()) for b in names} for a in names}
    evaluation = _json(folder("evaluate") / "eval.json") if "evaluate" in deps else None
    fixed_point = None
    if "quantize" in deps:
        q = load_model(folder("quantize") / MODEL_FILE)
        fixed_point = {"read": str(q.quant.read), "integrator": str(q.quant.integrator),
                       "param_width": q.quant.param_width, "steps": list(q.quant.steps),
                       "lanes": q.hdl.lanes if q.hdl else None, "units": q.hdl.units if q.hdl else None,
                       "calibration": q.quant.extra}
    monte_carlo = None
    if "monte-carlo" in deps:
        mc = _json(folder("monte-carlo") / "montecarlo.json")
        monte_carlo = {k: mc[k] for k in ("view", "trials", "inputs", "mismatch", "tolerance", "fidelity",
                                          "passed_trials", "metric", "metric_spread", "nominal_metric", "deviation",
                                          "failures", "passed")}
    fpga = _json(folder("fpga-report") / "fpga.json") if "fpga-report" in deps else None
    timings = [{"step": s, "seconds": engine.state.steps[s].seconds, "applies": engine.state.steps[s].applies,
                "commands": engine.state.steps[s].commands} for s in deps if s in engine.state.steps]
    card = {k: info[k] for k in ("name", "task", "nodes", "edges", "inputs", "outputs", "parameters", "kinds",
                                 "digest", "fill")}
    card["windows"] = len(info["windows"])
    return {
        "schema": "kgen.flow-report/1", "kgen": __version__, "flow": engine.spec.origin, "model": card,
        "inputs": {"count": int(x.shape[0]), "width": int(x.shape[1]), "values": x.tolist()},
        "views": views, "differences": differences, "evaluation": evaluation, "fixed_point": fixed_point,
        "monte_carlo": monte_carlo, "fpga": fpga,
        "all_within_contract": all(r.get("passed", True) for r in views) and (monte_carlo or {}).get("passed", True),
        "plots": [f"{s}/verify.png" for _, s, _ in VIEW_STEPS if s in deps and (folder(s) / "verify.png").exists()]
        + (["monte-carlo/montecarlo.png"] if monte_carlo and (folder("monte-carlo") / "montecarlo.png").exists()
           else []),
        "tools": _versions(verifies, deps, engine.spec), "steps": timings,
    }


def _image(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def fpga_summary(doc: dict) -> str:
    """One line of the flow's FPGA report: resources of available, Fmax against the request, latency."""
    d, t, perf = doc["device"], doc["timing"], doc["performance"]
    res = doc["resources"]
    used = ", ".join(f"{k} {res[k]['used']}/{res[k]['available']}" for k in ("LUT", "FF", "DSP", "BRAM", "SPRAM")
                     if k in res)
    line = f"fpga {d['name']} (L={doc['design']['lanes']}): {used}"
    if t["fmax_mhz"] is not None:
        line += (f"; Fmax {t['fmax_mhz']:.1f} MHz ({'meets' if t['met'] else 'MISSES'} {t['requested_mhz']:g}); "
                 f"{perf['cycles_per_inference']} cycles, {perf['latency_us']:.0f} us per inference")
    else:
        line += f"; {perf['cycles_per_inference']} cycles per inference (not placed)"
    return line


def write_report(engine, stage: Path) -> None:
    doc = collect(engine)
    atomic_write_bytes(stage / "report.json", (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    plots = [{"name": p, "uri": _image(engine.out / "steps" / p)} for p in doc["plots"]]
    html = environment().get_template(TEMPLATE).render(doc=doc, plots=plots, fmt=_fmt,
                                                        n_show=min(4, doc["inputs"]["count"]),
                                                        shown_elsewhere=("read", "integrator", "param_width",
                                                                         "steps", "lanes", "units"))
    atomic_write_bytes(stage / "report.html", html.encode("utf-8"))

"""Run the cocotb bench (kgen.hdl.bench) on the core's Verilog with cocotb's Python runner.

`run_bench(plan, x0, expected, options)` writes the Verilog, builds it once
per (simulator, Verilog text) in a cache folder (Verilator's C++ build is the
slow part), writes the stimulus, runs the bench and returns what it found
(with a trace, also every state the RTL reported). A
mismatch is a BenchMismatch (a CheckFailed: one line, exit 1), so a corrupted
expected value makes the bench fail the same way a wrong RTL would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kgen.errors import CheckFailed, ToolError, expected_found
from kgen.fsutil import staged_directory

from .export import TOP, debug_fields, verilog_digest, verilog_text
from .plan import Plan
from .tools import VERILATOR_FLAGS, Sim, cache_dir, find_sim, verilator_make_flags

BENCH_MODULE = "kgen.hdl.bench"


class BenchMismatch(CheckFailed):
    """The RTL disagrees with the bit-exact model (or the bench found no result)."""


@dataclass(frozen=True)
class BenchOptions:
    sim: Sim = Sim.ICARUS
    trace: bool = False  # compare every step's state (the debug port)
    stall: float = 0.25  # probability of a valid/ready gap per stream cycle
    seed: int = 0
    workdir: Path | None = None  # default: a temporary folder (kept on failure)


@dataclass(frozen=True, eq=False)
class BenchResult:
    sim: Sim
    outputs: np.ndarray  # (B, n_out) raw
    run_cycles: tuple[int, ...]  # per inference, from the core's `cycles` port
    latency: tuple[int, ...]  # per inference: last input taken -> first output valid (bench clock)
    step_cycles: tuple[int, ...]  # first inference, from the debug beats (trace only)
    states_checked: int
    sim_cycles: int
    sim_seconds: float  # wall time inside the simulator (bench loop)
    build_seconds: float
    mismatches: tuple[dict, ...] = field(default=())
    states: np.ndarray | None = None  # (S, N, B) raw the RTL reported after every step (trace; row 0 not observed)
    saturated: np.ndarray | None = None  # (S, N, B) bool: the core's saturation bits (trace)

    @property
    def cycles_per_second(self) -> float:
        return self.sim_cycles / self.sim_seconds if self.sim_seconds > 0 else float("nan")


def cache_root() -> Path:
    return cache_dir("KGEN_RTL_CACHE", "rtl")


@contextlib.contextmanager
def _sim_env(tools, extra: dict | None = None):
    """cocotb's runner takes its environment from os.environ: set PATH (and extras) while it runs."""
    saved = {k: os.environ.get(k) for k in ["PATH", *(extra or {})]}
    os.environ["PATH"] = f"{tools.path_dir}{os.pathsep}{saved['PATH'] or ''}"
    os.environ.update(extra or {})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: The marker a finished build folder holds.
BUILT = ".kgen-built"
#: Changes to how models are built (timescale, flags) must change this: it is part of the cache key.
BUILD_RECIPE = "timescale 1ns/1ps; bench kgen.hdl.bench; verilator -O0 models, public depth 1, one unit"


def _verilator_runner():
    """cocotb's Verilator runner, leaner: the bench touches only the top-level ports.

    cocotb makes every signal of the design VPI-writable (--public-flat-rw), which adds
    C++ for every register of the core (a 16-lane build: 38 s with it, 29 s without);
    `--public-depth 1` keeps the top level's ports (all the bench needs) public.
    """
    from cocotb_tools.runner import Verilator

    class LeanVerilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"] + ["--public-depth", "1"]
            return cmds

    return LeanVerilator()


def _runner(sim: Sim):
    from cocotb_tools.runner import get_runner

    return _verilator_runner() if sim is Sim.VERILATOR else get_runner(sim.value)


def build(plan: Plan, sim: Sim) -> tuple[Path, float]:
    """Build (or reuse) the simulator model of a plan's Verilog; returns (build folder, seconds spent).

    The model is built in a staging folder and published by one rename
    (kgen.fsutil.staged_directory); when another process published the same key first,
    its folder is kept and this build is dropped."""
    tools = find_sim(sim)
    text = verilog_text(plan)
    recipe = hashlib.sha256(repr((BUILD_RECIPE, VERILATOR_FLAGS, tools.version)).encode()).hexdigest()[:8]
    key = f"{sim.value}-{verilog_digest(plan)[:20]}-{recipe}"
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    if (final / BUILT).is_file():
        return final, 0.0
    t0 = time.time()
    with staged_directory(final, replace_existing=False) as stage:
        src = stage / f"{TOP}.v"
        src.write_text(text)
        extra = {"MAKEFLAGS": verilator_make_flags("-O0", parallel=False)} if sim is Sim.VERILATOR else {}
        with _sim_env(tools, extra):
            runner = _runner(sim)
            args = list(VERILATOR_FLAGS) if sim is Sim.VERILATOR else []
            try:
                runner.build(sources=[src], hdl_toplevel=TOP, build_dir=stage / "build", build_args=args,
                             always=True, log_file=stage / "build.log", timescale=("1ns", "1ps"))
            except (RuntimeError, SystemExit) as exc:
                log = (stage / "build.log").read_text(errors="replace")[-2000:] if (stage / "build.log").is_file() else ""
                raise ToolError(expected_found(f"{sim.value} build of {TOP}", "a simulator model",
                                               f"{exc} ({log.strip().splitlines()[-1] if log.strip() else 'no log'})"))
        _prune(stage / "build")
        (stage / BUILT).write_text(key + "\n")
    return final, time.time() - t0


def _prune(build_dir: Path) -> None:
    """Drop the compiler's intermediates (objects, generated C++): a cached model keeps what runs."""
    for pattern in ("*.o", "*.a", "*.d", "*.gch", "*.cpp", "*.h"):
        for f in build_dir.glob(pattern):
            f.unlink()


def _stimulus(plan: Plan, x0: np.ndarray, expected: np.ndarray, states, options: BenchOptions) -> dict:
    from .fixed import hw_width

    meta = {"seed": options.seed, "stall": options.stall, "trace": bool(options.trace and states is not None),
            "x_width": hw_width(plan.program.integrator), "units": plan.units, "nodes": plan.program.n_nodes,
            "debug_fields": debug_fields(plan),
            # a hung core fails instead of running forever: 4x the expected cycles plus stall headroom
            "budget_cycles": 4 * (plan.run_cycles() + plan.groups + 64 * (len(x0[0]) + len(expected[0])) + 100)}
    d = {"meta": np.array(json.dumps(meta)), "x0": np.asarray(x0, np.int64),
         "expected": np.asarray(expected, np.int64)}
    if meta["trace"]:
        d["states"] = np.asarray(states, np.int64)
    return d


def run_bench(plan: Plan, x0: np.ndarray, expected: np.ndarray, options: BenchOptions = BenchOptions(),
              states: np.ndarray | None = None) -> BenchResult:
    """x0 (B, n_in) raw inputs, expected (B, n_out) raw outputs, states (S, N, B) raw for a trace."""
    if options.trace and not plan.config.debug:
        raise ToolError(expected_found("--trace", "a core built with its debug port", "none"))
    built, build_s = build(plan, options.sim)
    tools = find_sim(options.sim)
    work = Path(options.workdir) if options.workdir else Path(tempfile.mkdtemp(prefix="kgen-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    stim, result, seen = work / "stimulus.npz", work / "result.json", work / "observed.npz"
    np.savez(stim, **_stimulus(plan, x0, expected, states, options))
    for stale in (result, seen):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    env = {"KGEN_BENCH": str(stim), "KGEN_BENCH_RESULT": str(result), "KGEN_BENCH_STATES": str(seen),
           "COCOTB_LOG_LEVEL": os.environ.get("KGEN_BENCH_LOG_LEVEL", "WARNING")}
    with _sim_env(tools):
        runner = _runner(options.sim)
        try:
            runner.test(test_module=BENCH_MODULE, hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
                        build_dir=built / "build", test_dir=work,
                        extra_env=env, results_xml=str(work / "results.xml"), log_file=work / "sim.log",
                        seed=options.seed)
        except (RuntimeError, SystemExit):
            pass  # the result file (or its absence) says what happened
    if not result.is_file():
        raise BenchMismatch(expected_found(f"cocotb bench on {options.sim.value}", "a result",
                                           f"none (simulator log: {work / 'sim.log'})"))
    r = json.loads(result.read_text())
    observed = saturated = None
    if seen.is_file():
        with np.load(seen, allow_pickle=False) as z:
            observed, saturated = z["states"], z["saturated"]
    out = BenchResult(options.sim, np.asarray(r["outputs"], np.int64), tuple(r["run_cycles"]),
                      tuple(r["latency"]), tuple(r["step_cycles"]), int(r["states_checked"]),
                      int(r["sim_cycles"]), float(r["wall_s"]), build_s, tuple(r["mismatches"]), observed, saturated)
    if out.mismatches or r.get("missing_states"):
        first = out.mismatches[0] if out.mismatches else None
        what = (f"input {first['input']} {first['what']}: got {first['got']}, expected {first['want']}" if first
                else f"{r.get('missing_states')} states never reported")
        raise BenchMismatch(expected_found(f"RTL ({options.sim.value}) vs bit-exact model",
                                           "zero mismatches", f"{len(out.mismatches)}"
                                           f"{'+' if r.get('state_mismatches', 0) > 20 else ''} ({what}; "
                                           f"bench folder {work})"))
    if not options.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return out

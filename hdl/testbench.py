"""A standalone Verilog test bench: whole trajectories at simulator speed, no per-cycle Python.

`kgen run --view rtl` uses it. The bench reads the raw input values from a
hex file ($readmemh), runs every inference through the `inp` / `out` streams
(valid and ready held high: stalls are the cocotb bench's job; the bench
drives and samples on the falling edge, so no simulator race decides a
handshake), and writes
one line per inference: the `cycles` port and the raw outputs. With a trace
it also writes the debug beats (the bench's clock count, step, group, the
saturation bits and the U integrator values) of every step, or of the steps
asked for (`marks`: the window boundaries of `kgen run --view rtl`). Built
with Icarus (iverilog + vvp) or Verilator (`--binary --timing`), the same text.
The state before the first step is not on the debug port: the caller knows
it (it loaded it, `Emulator.load`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgen.errors import ToolError, expected_found

from .export import TOP, debug_fields, verilog_text
from .fixed import hw_width
from .plan import Plan
from .tools import VERILATOR_FLAGS, Sim, find_sim, verilator_make_flags

TB = "kgen_tb"


def bench_text(plan: Plan, batch: int, trace: bool, marks=None) -> str:
    """The bench's Verilog; with a trace it reports the states after the steps in `marks` (None: every step)."""
    p = plan.program
    w = hw_width(p.integrator)
    n_in, n_out = len(p.inputs), len(p.outputs)
    lines = [
        "`timescale 1ns/1ps",
        f"module {TB};",
        "  reg clk = 0, rst = 1, start = 0;",
        f"  reg [{w - 1}:0] inp_payload = 0;",
        "  reg inp_valid = 0;",
        "  wire inp_ready, out_valid, busy, done;",
        f"  wire [{w - 1}:0] out_payload;",
        "  wire [47:0] cycles;",
        f"  reg [{w - 1}:0] mem [0:{batch * n_in - 1}];",
        f"  reg [{w - 1}:0] got [0:{n_out - 1}];",
        "  integer fd, b, k;",
        "  reg [63:0] tick = 0;",
        "  always @(posedge clk) tick <= tick + 1;",
    ]
    conn = [".clk(clk)", ".rst(rst)", ".start(start)", ".busy(busy)", ".done(done)", ".cycles(cycles)",
            ".inp__payload(inp_payload)", ".inp__valid(inp_valid)", ".inp__ready(inp_ready)",
            ".out__payload(out_payload)", ".out__valid(out_valid)", ".out__ready(1'b1)"]
    if plan.config.debug:
        width = sum(f[1] if n != "x" else f[1] * plan.units for n, f in debug_fields(plan).items())
        lines += [f"  wire [{width - 1}:0] dbg;", "  wire dbg_valid;"]
        conn += [".debug__payload(dbg)", ".debug__valid(dbg_valid)", ".debug__ready(1'b1)"]
    lines += [f"  {TOP} dut({', '.join(conn)});", "  always #5 clk = ~clk;"]
    if trace and plan.config.debug:
        f = debug_fields(plan)
        so, sw = f["step"]
        go, gw = f["group"]
        ao, aw = f["saturated"]
        xo, xw = f["x"]
        xs = ", ".join(f"$signed(dbg[{xo + (u + 1) * xw - 1}:{xo + u * xw}])" for u in range(plan.units))
        fmt = " ".join(["%0d"] * (4 + plan.units))
        wanted = ""
        if marks is not None:
            steps = sorted({int(m) for m in marks if int(m) > 0})
            wanted = " && (" + (" || ".join(f"dbg[{so + sw - 1}:{so}] == {m}" for m in steps) or "1'b0") + ")"
        lines += [f"  always @(negedge clk) if (dbg_valid{wanted})",
                  f"    $fwrite(fd, \"T {fmt}\\n\", tick, dbg[{so + sw - 1}:{so}], dbg[{go + gw - 1}:{go}], "
                  f"dbg[{ao + aw - 1}:{ao}], {xs});"]
    lines += [
        "  initial begin",
        "    $readmemh(\"inputs.hex\", mem);",
        "    fd = $fopen(\"outputs.txt\", \"w\");",
        "    repeat (2) @(negedge clk);",
        "    rst = 0;",
        f"    for (b = 0; b < {batch}; b = b + 1) begin",
        "      @(negedge clk) start = 1;",
        "      @(negedge clk) start = 0;",
        "      k = 0;",
        f"      while (k < {n_in}) begin",
        f"        inp_valid = 1; inp_payload = mem[b * {n_in} + k];",
        "        #1 if (inp_ready) k = k + 1;  // taken at the next rising edge",
        "        @(negedge clk);",
        "      end",
        "      inp_valid = 0;",
        "      k = 0;",
        f"      while (k < {n_out}) begin",
        "        @(negedge clk);",
        "        if (out_valid) begin got[k] = out_payload; k = k + 1; end",
        "      end",
        "      $fwrite(fd, \"O\");",
        f"      for (k = 0; k < {n_out}; k = k + 1) $fwrite(fd, \" %0d\", $signed(got[k]));",
        "      $fwrite(fd, \" C %0d\\n\", cycles);",
        "      $display(\"kgen-inference-done %0d\", b + 1);  // progress, read line by line",
        "      $fflush;",
        "    end",
        "    $fclose(fd);",
        "    $finish;",
        "  end",
        "endmodule",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class StandaloneResult:
    outputs: np.ndarray  # (B, n_out) raw
    cycles: np.ndarray  # (B,) the core's cycles port per inference
    states: np.ndarray | None  # (S, N, B) raw after the reported steps (trace), S = steps + 1; row 0 not observed
    saturated: np.ndarray | None  # (S, N, B) bool: the integrator or the read copy clipped (trace)
    seconds: float  # simulator run time
    build_seconds: float
    sim_cycles: int
    step_cycles: tuple[int, ...] = ()  # every step reported: first inference, cycles of steps 2, 3, ...

    @property
    def cycles_per_second(self) -> float:
        return self.sim_cycles / self.seconds if self.seconds > 0 else float("nan")


def _run(cmd: list[str], cwd: Path, env: dict, what: str, timeout: float | None = None) -> None:
    try:
        out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(expected_found(what, f"to finish within {timeout:g} s", "a timeout")) from None
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()
        raise ToolError(expected_found(what, "exit status 0", f"{out.returncode}: {tail[-1] if tail else ''}"))


def _run_with_progress(cmd: list[str], cwd: Path, env: dict, what: str, batch: int,
                       timeout: float | None = None) -> None:
    """Like _run, with a progress bar advanced by the bench's line after every inference."""
    import threading

    from kgen.progress import bar

    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        proc.kill()
    timer = threading.Timer(timeout, stop) if timeout else None
    if timer:
        timer.start()
    tail: list[str] = []
    try:
        with bar(batch, what, "input") as progress:
            for line in proc.stdout:
                if line.startswith("kgen-inference-done "):
                    progress.update(1)
                elif line.strip():
                    tail = (tail + [line.strip()])[-5:]
        rc = proc.wait()
    finally:
        if timer:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if timed_out.is_set():
        raise ToolError(expected_found(what, f"to finish within {timeout:g} s", "a timeout"))
    if rc != 0:
        raise ToolError(expected_found(what, "exit status 0", f"{rc}: {tail[-1] if tail else ''}"))


def build_standalone(plan: Plan, sim: Sim, batch: int, trace: bool, work: Path, marks=None) -> tuple[Path, float]:
    """Compile the bench for `batch` inferences; returns (the executable or .vvp, seconds)."""
    tools = find_sim(sim)
    env = tools.env()
    (work / f"{TOP}.v").write_text(verilog_text(plan))
    (work / f"{TB}.v").write_text(bench_text(plan, batch, trace, marks))
    t0 = time.time()
    if sim is Sim.ICARUS:
        _run([str(tools.executable), "-g2012", "-o", "tb.vvp", "-s", TB, f"{TB}.v", f"{TOP}.v"], work, env,
             "iverilog")
        return work / "tb.vvp", time.time() - t0
    jobs = str(min(2, os.cpu_count() or 1))
    env["MAKEFLAGS"] = verilator_make_flags("-O1", parallel=False)  # whole trajectories: a faster model is worth -O1
    _run([str(tools.executable), "--binary", "--timing", *VERILATOR_FLAGS, "-CFLAGS", "-std=c++20", "-j", jobs,
          "--top-module", TB, "-Mdir", "obj", "-o", "tb", f"{TB}.v", f"{TOP}.v"], work, env, "verilator")
    return work / "obj" / "tb", time.time() - t0


def run_standalone(plan: Plan, x0: np.ndarray, sim: Sim = Sim.ICARUS, trace: bool = False,
                   workdir: Path | None = None, timeout: float | None = None, marks=None) -> StandaloneResult:
    """Run raw input words x0 (B, n_in) through the RTL. With a trace, collect the state after every
    step, or after the steps in `marks` (step indices 0..S-1; 0, the loaded state, is the caller's)."""
    p = plan.program
    x0 = np.asarray(x0, np.int64)
    batch = x0.shape[0]
    w = hw_width(p.integrator)
    if trace and not plan.config.debug:
        raise ToolError(expected_found("an RTL trace", "a core built with its debug port", "none"))
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="kgen-rtl-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        exe, build_s = build_standalone(plan, sim, batch, trace, work, marks)
        digits = (w + 3) // 4
        (work / "inputs.hex").write_text("".join(f"{int(v) & ((1 << w) - 1):0{digits}x}\n" for v in x0.reshape(-1)))
        tools = find_sim(sim)
        cmd = [tools.vvp, "-n", str(exe)] if sim is Sim.ICARUS else [str(exe)]
        t0 = time.time()
        _run_with_progress(cmd, work, tools.env(), f"{sim.value} simulation", batch, timeout)
        seconds = time.time() - t0
        return _parse(plan, (work / "outputs.txt").read_text(), batch, trace, marks, seconds, build_s)
    finally:
        if not workdir:
            shutil.rmtree(work, ignore_errors=True)


def _parse(plan: Plan, text: str, batch: int, trace: bool, marks, seconds: float,
           build_s: float) -> StandaloneResult:
    p = plan.program
    outs, cycles, beats = [], [], []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "O":
            c = parts.index("C")
            outs.append([int(v) for v in parts[1:c]])
            cycles.append(int(parts[c + 1]))
        elif parts[0] == "T":
            beats.append((len(outs), [int(v) for v in parts[1:]]))
    if len(outs) != batch:
        raise ToolError(expected_found("RTL test bench output", f"{batch} inferences", f"{len(outs)}"))
    states = sat = None
    step_cycles: tuple[int, ...] = ()
    if trace:
        S = p.total_steps + 1
        states = np.zeros((S, p.n_nodes, batch), np.int64)
        sat = np.zeros((S, p.n_nodes, batch), bool)
        seen = np.zeros((S, p.n_nodes, batch), bool)
        firsts: dict[int, int] = {}
        for b, vals in beats:
            tick, step, group, bits, xs = vals[0], vals[1], vals[2], vals[3], vals[4:]
            if b == 0:
                firsts.setdefault(step, tick)
            for u, x in enumerate(xs):
                node = group * plan.units + u
                if node < p.n_nodes and step < S:
                    states[step, node, b] = x
                    sat[step, node, b] = bool((bits >> u) & 1)
                    seen[step, node, b] = True
        rows = np.arange(1, S) if marks is None else np.asarray(sorted({int(m) for m in marks if int(m) > 0}), int)
        missing = int((~seen[rows]).sum()) if rows.size else 0
        if missing:
            raise ToolError(expected_found("RTL debug port", f"the state of every node after {rows.size} steps "
                                           f"x {batch} inferences", f"{missing} states never reported"))
        if marks is None:
            ticks = [firsts[s] for s in sorted(firsts)]
            step_cycles = tuple(int(v) for v in np.diff(ticks))
    sim_cycles = int(np.sum(cycles)) + batch * (plan.groups + len(p.inputs) + 2 * len(p.outputs) + 4)
    return StandaloneResult(np.asarray(outs, np.int64), np.asarray(cycles, np.int64), states, sat, seconds,
                            build_s, sim_cycles, step_cycles)

"""The cocotb bench of the Euler core (runs inside the simulator; started by kgen.hdl.runner).

The stimulus file (KGEN_BENCH, an .npz written by the runner) holds the raw
initial integrator values of the input nodes, the bit-exact model's expected
outputs and (with a trace) its expected state after every step, the layout of
the debug payload and the expected cycle counts. Per inference the bench
pulses start, drives the inputs through the `inp` stream with random valid
gaps, takes the outputs from `out` with random ready gaps, and (with a
trace) collects every debug beat. Everything is compared with zero
tolerance; the findings go to KGEN_BENCH_RESULT as JSON (the runner reports
them), with a trace the states the RTL reported to KGEN_BENCH_STATES (.npz),
and the test fails on any mismatch, so cocotb's own result says so too.

Per-cycle Python runs only while streams move or debug beats arrive; the
Euler steps themselves run at simulator speed (the bench waits on edges of
`out__valid` and `debug__valid`).
"""

from __future__ import annotations

import json
import os
import random
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

PERIOD_NS = 10


def _signed(value: int, width: int) -> int:
    value &= (1 << width) - 1
    return value - (1 << width) if value >> (width - 1) else value


def _now_cycles() -> int:
    from cocotb.simtime import get_sim_time

    return int(get_sim_time(unit="ns")) // PERIOD_NS


class Stim:
    def __init__(self, path: str):
        with np.load(path, allow_pickle=False) as z:
            self.d = {k: z[k] for k in z.files}
        meta = json.loads(str(self.d["meta"]))
        self.meta = meta
        self.x0 = self.d["x0"]  # (B, n_in) raw integrator values
        self.expected = self.d["expected"]  # (B, n_out) raw
        self.states = self.d.get("states")  # (S, N, B) raw, with a trace
        self.width = int(meta["x_width"])


async def _pulse_start(dut) -> None:
    await RisingEdge(dut.clk)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0


async def _drive_inputs(dut, values, width: int, rng: random.Random, stall: float) -> int:
    """Send one inference's inputs; returns the cycle of the edge that took the last one."""
    k, mask = 0, (1 << width) - 1
    while k < len(values):
        await RisingEdge(dut.clk)
        gap = rng.random() < stall
        dut.inp__valid.value = 0 if gap else 1
        dut.inp__payload.value = int(values[k]) & mask
        await ReadOnly()
        if not gap and int(dut.inp__ready.value):
            k += 1
    await RisingEdge(dut.clk)
    last = _now_cycles()
    dut.inp__valid.value = 0
    return last


async def _take_outputs(dut, n: int, width: int, rng: random.Random, stall: float):
    """Collect n output beats; returns (values, cycle at which out__valid first rose)."""
    if not int(dut.out__valid.value):
        await RisingEdge(dut.out__valid)
    first = _now_cycles()
    got = []
    while len(got) < n:
        await RisingEdge(dut.clk)
        gap = rng.random() < stall
        dut.out__ready.value = 0 if gap else 1
        await ReadOnly()
        if not gap and int(dut.out__valid.value):
            got.append(_signed(int(dut.out__payload.value.to_unsigned()), width))
    await RisingEdge(dut.clk)
    dut.out__ready.value = 0
    return got, first


async def _watch_debug(dut, meta: dict, beats: list) -> None:
    """Record every debug beat as (cycle, payload int) until cancelled."""
    while True:
        await RisingEdge(dut.debug__valid)
        while True:
            await ReadOnly()
            if not int(dut.debug__valid.value):
                break
            beats.append((_now_cycles(), int(dut.debug__payload.value.to_unsigned())))
            await RisingEdge(dut.clk)


def _decode(payload: int, meta: dict):
    f = meta["debug_fields"]
    step = (payload >> f["step"][0]) & ((1 << f["step"][1]) - 1)
    group = (payload >> f["group"][0]) & ((1 << f["group"][1]) - 1)
    bits = (payload >> f["saturated"][0]) & ((1 << f["saturated"][1]) - 1)
    xo, xw = f["x"]
    xs = [_signed(payload >> (xo + u * xw), xw) for u in range(meta["units"])]
    return step, group, bits, xs


@cocotb.test()
async def euler_bench(dut):
    stim = Stim(os.environ["KGEN_BENCH"])
    meta = stim.meta
    rng = random.Random(int(meta["seed"]))
    stall = float(meta["stall"])
    trace = bool(meta["trace"]) and stim.states is not None
    Clock(dut.clk, PERIOD_NS, unit="ns", impl="gpi").start()
    dut.start.value = 0
    dut.inp__valid.value = 0
    dut.out__ready.value = 0
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    n_out = stim.expected.shape[1]
    S = stim.states.shape[0] if trace else 0
    batch = stim.x0.shape[0]
    observed = np.zeros((S, meta["nodes"], batch), np.int64)  # what the RTL reported (row 0: not observed)
    saturated = np.zeros(observed.shape, bool)
    result = {"outputs": [], "run_cycles": [], "latency": [], "step_cycles": [], "mismatches": [],
              "state_mismatches": 0, "states_checked": 0, "missing_states": 0}
    t0 = time.time()
    cycle0 = _now_cycles()
    budget = int(meta["budget_cycles"]) * PERIOD_NS  # per inference, stalls included
    for b in range(stim.x0.shape[0]):
        beats: list = []
        watcher = cocotb.start_soon(_watch_debug(dut, meta, beats)) if trace else None
        await _pulse_start(dut)
        dut._log.info("input %d: started", b)
        last_in = await with_timeout(_drive_inputs(dut, stim.x0[b], stim.width, rng, stall), budget, "ns")
        dut._log.info("input %d: inputs loaded at cycle %d", b, last_in)
        got, first_out = await with_timeout(_take_outputs(dut, n_out, stim.width, rng, stall), budget, "ns")
        if watcher is not None:
            watcher.cancel()
        result["outputs"].append(got)
        result["run_cycles"].append(int(dut.cycles.value.to_unsigned()))
        result["latency"].append(first_out - last_in)
        for j, (g, w) in enumerate(zip(got, stim.expected[b])):
            if g != int(w):
                result["mismatches"].append({"input": b, "what": f"output {j}", "got": g, "want": int(w)})
        if trace:
            seen = np.zeros((S, meta["nodes"]), bool)
            firsts = {}
            for cyc, payload in beats:
                step, group, bits, xs = _decode(payload, meta)
                firsts.setdefault(step, cyc)
                for u, x in enumerate(xs):
                    node = group * meta["units"] + u
                    if node >= meta["nodes"] or step >= S:
                        continue
                    seen[step, node] = True
                    observed[step, node, b] = x
                    saturated[step, node, b] = bool((bits >> u) & 1)
                    want = int(stim.states[step, node, b])
                    if x != want:
                        result["state_mismatches"] += 1
                        if len(result["mismatches"]) < 20:
                            result["mismatches"].append({"input": b, "what": f"step {step} node {node + 1}",
                                                         "got": x, "want": want})
            result["states_checked"] += int(seen[1:].sum())
            result["missing_states"] += int((~seen[1:]).sum())
            if b == 0:
                marks = [firsts[s] for s in sorted(firsts)]
                result["step_cycles"] = [int(v) for v in np.diff(marks)]
    result["sim_cycles"] = _now_cycles() - cycle0
    result["wall_s"] = time.time() - t0
    with open(os.environ["KGEN_BENCH_RESULT"], "w") as fh:
        json.dump(result, fh)
    if trace and os.environ.get("KGEN_BENCH_STATES"):
        np.savez(os.environ["KGEN_BENCH_STATES"], states=observed, saturated=saturated)
    assert not result["mismatches"], f"{len(result['mismatches'])} mismatches, first {result['mismatches'][0]}"
    assert result["missing_states"] == 0, f"{result['missing_states']} states never reported"

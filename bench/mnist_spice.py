"""The mnist netlist in ngspice on one input: time (or how far it got) and logit error. Not run in CI.

    .venv/bin/python bench/mnist_spice.py [--maxstep-fraction F] [--reltol R] [--timeout S] [--window K]

Exports the mnist checkpoint (834 nodes, 2 windows x 230,068 B-sources) with
one input, a scikit-learn digit upscaled to 28 x 28, saving only the ten
output nodes, and runs `ngspice -b -r netlist.raw` under a hard timeout (default
60 minutes). The logits at T = 2 are compared with the float reference (dopri5,
float64, rtol = atol = 1e-10); target 1e-3.

When the timeout stops ngspice, its progress lines ("Reference value") say how far it
got, and the rawfile it was writing gives the ten outputs at its last time point t_r,
compared with the float reference solved up to exactly t_r. ngspice writes the points as
it goes through a 4 KiB stdio buffer and fixes the header's point count only at the end;
the kill (SIGTERM does no better: ngspice does not flush on it) loses what is still in the
buffer, up to ~46 points of time + 10 outputs, so a run stopped in its first minutes may
leave no point at all.

`--window K` runs window K alone (1-based), as the chained per-window mode does: the
netlist starts from the float reference's node voltages at the window's start (17
digits), so the last window's run measures the logit error at T = 2 that one
ngspice run of the whole span cannot reach within the timeout; the error of the
earlier windows is measured by a whole-span run stopped inside them.

The defaults are looser than the 2-D preset (target 1e-3, not 1e-4): maxstep
5e-4 of the span (1e-3 model time units) and reltol 1e-6. At reltol 1e-8 ngspice's
step control holds the step near 1.5e-5 on this netlist and each time point costs
seconds (two Newton iterations over 230k B-sources, the hidden nodes filling the LU),
so T = 2 is out of reach; pass --reltol / --maxstep-fraction to try other settings.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import mnist_circuit


def digit_input() -> np.ndarray:
    """The first scikit-learn digit (8 x 8, values 0..1) upscaled to 28 x 28 by bilinear interpolation."""
    from kgen.datasets import digits

    x, _, _, _ = digits()
    img = x[0].reshape(8, 8)
    coords = np.linspace(0, 7, 28)
    rows = np.array([np.interp(coords, np.arange(8), r) for r in img])
    full = np.array([np.interp(coords, np.arange(8), c) for c in rows.T]).T
    return full.reshape(1, 784)


def reference_states(circuit, x: np.ndarray) -> np.ndarray:
    """The float reference (dopri5, float64, rtol = atol = 1e-10) at the window boundaries (W + 1, B, N)."""
    from kgen.modelfile import Model

    return Model(circuit).run(x, view="float", method="dopri5", rtol=1e-10, atol=1e-10, dtype="float64").v


def reference_outputs(circuit, x: np.ndarray, t: float) -> np.ndarray:
    """The float reference's output voltages at time t (0 < t <= T): the reference on the circuit
    cut at t (the windows before t, the one holding t ending there)."""
    from dataclasses import replace

    from kgen.circuit import Window

    if t < circuit.t_final:
        kept = [w for w in circuit.windows if w.t_start < t]
        kept[-1] = Window(kept[-1].t_start, t, kept[-1].edges, kept[-1].params)
        circuit = replace(circuit, windows=tuple(kept))
    return reference_states(circuit, x)[-1][0, np.asarray(circuit.outputs) - 1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--maxstep-fraction", type=float, default=5e-4)
    p.add_argument("--reltol", type=float, default=1e-6)
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--window", type=int, help="run only window K (1-based) from the float reference's state at its start")
    a = p.parse_args()

    from kgen.codegen.analog import Accuracy, Save, Schedule
    from kgen.codegen.rawfile import read_raw
    from kgen.codegen.spice import SpiceOptions, write_spice
    from kgen.codegen.tools import NGSPICE
    from kgen.layout import initial_state

    circuit, what = mnist_circuit()
    x = digit_input()
    schedule, initial = Schedule.full(circuit), initial_state(circuit, x)
    if a.window is not None:
        if not 1 <= a.window <= len(circuit.windows):
            sys.exit(f"--window: expected 1..{len(circuit.windows)}, found {a.window}")
        schedule = Schedule.single(a.window - 1)
        if a.window > 1:
            initial = reference_states(circuit, x)[a.window - 1]  # (1, N) at the window's start
        print(f"window {a.window} alone: t = {schedule.t0(circuit):g} .. {circuit.windows[a.window - 1].t_end:g}, "
              "from the float reference's state", flush=True)
    accuracy = Accuracy(maxstep_fraction=a.maxstep_fraction, reltol=a.reltol)
    print(f"{what}: {circuit.n_nodes} nodes, {circuit.n_edges} edges x {len(circuit.windows)} windows; "
          f"maxstep {a.maxstep_fraction * circuit.t_final:g}, reltol {a.reltol:g}, timeout {a.timeout:g} s",
          flush=True)
    t_start = schedule.t0(circuit)  # the netlist's time 0 (ngspice's times are relative to it)
    t_end = circuit.windows[schedule.windows[-1]].t_end
    with tempfile.TemporaryDirectory(prefix="kgen-mnist-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        options = SpiceOptions(accuracy=accuracy, save=Save.OUTPUTS)
        write_spice(circuit, options, folder, initial, schedule)
        print(f"  export: {time.perf_counter() - t0:.1f} s, "
              f"{(folder / 'netlist.cir').stat().st_size / 2**20:.1f} MB", flush=True)
        log = folder / "ngspice.log"
        t0 = time.perf_counter()
        with open(log, "wb") as fh:
            proc = subprocess.Popen([str(NGSPICE.find()), "-b", "-r", "netlist.raw", "netlist.cir"],
                                    cwd=folder, stdout=fh, stderr=subprocess.STDOUT)
            try:
                rc = proc.wait(timeout=a.timeout)
                finished = True
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc, finished = None, False
        elapsed = time.perf_counter() - t0
        text = log.read_bytes().decode("latin-1")
        progress = re.findall(r"Reference value\s*:\s*([-+0-9.eE]+)", text)
        reached = t_start + (float(progress[-1]) if progress else 0.0)
        raw = folder / "netlist.raw"
        if not finished:
            print(f"  ngspice: stopped by the {a.timeout:g} s timeout at t = {reached:g} of {t_end:g} "
                  f"({100 * (reached - t_start) / (t_end - t_start):.1f} % of the run, its last progress line), {elapsed:.0f} s", flush=True)
            data = read_raw(raw) if raw.is_file() else None
            if data is None or data.data.shape[0] == 0 or data.time[-1] <= 0:
                why = "no time point past the start (the rest was in ngspice's buffer)" if data else "none"
                print(f"  partial rawfile: {why}; no error measured")
                return
            t_r = t_start + float(data.time[-1])
            v = np.array([data.data[-1, data.column(f"v(n{n})")] for n in circuit.outputs])
            print(f"  partial rawfile: {data.data.shape[0]} time points, the last at t = {t_r:.6g}", flush=True)
        elif rc != 0 or not raw.is_file():
            print(f"  ngspice failed (exit status {rc}); last lines: {text.strip().splitlines()[-3:]}")
            sys.exit(1)
        else:
            data = read_raw(raw)
            logits = np.array([data.data[-1, data.column(f"v(n{n})")] for n in circuit.outputs])
            print(f"  ngspice: {elapsed:.0f} s for t = {t_start:g} .. {t_end:g} ({data.data.shape[0]} time points)",
                  flush=True)
    t0 = time.perf_counter()
    if not finished:
        ref = reference_outputs(circuit, x, t_r)
        err = np.abs(v - ref)
        print(f"  float reference up to t = {t_r:.6g}: {time.perf_counter() - t0:.0f} s")
        print(f"  outputs ngspice: {np.array2string(v, precision=5, max_line_width=200)}")
        print(f"  outputs float:   {np.array2string(ref, precision=5, max_line_width=200)}")
        print(f"  stopped by the timeout at t = {t_r:.6g}; max |v - v_ref| over the {len(v)} outputs at that time: "
              f"{err.max():.3g} (target 1e-3: {'ok' if err.max() <= 1e-3 else 'MISSED'})")
        return
    ref = reference_outputs(circuit, x, t_end)
    err = np.abs(logits - ref)
    print(f"  float reference: {time.perf_counter() - t0:.0f} s")
    print(f"  logits ngspice: {np.array2string(logits, precision=5)}")
    print(f"  logits float:   {np.array2string(ref, precision=5)}")
    what = "logit error" if t_end == circuit.t_final else f"output error at t = {t_end:g}"
    print(f"  max |{what}| {err.max():.3g} (target 1e-3: {'ok' if err.max() <= 1e-3 else 'MISSED'}); "
          f"argmax {int(np.argmax(logits))} vs {int(np.argmax(ref))}")


if __name__ == "__main__":
    main()

"""Edge updates per second of the bit-exact model on the mnist checkpoint, against a straightforward NumPy version.

    .venv/bin/python bench/emulate.py [--threads 2] [--inputs 100] [--steps 10]

100 inputs, 20 Euler steps (10 per window, 2 windows); an edge update is one
edge's current for one input in one step. The baseline runs the same lowered
program the plain way (gather every edge's terminals, compute in int64,
np.add.at into the nodes), in the same process; both must agree bit for bit.
Target: at least 5e7 edge updates per second on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import mnist_circuit


def straightforward(program, x: np.ndarray) -> np.ndarray:
    """The lowered program, executed plainly: whole-array int64 ops and np.add.at."""
    from kgen.emulation.interp import Emulator
    from kgen.emulation.program import OpCode
    from kgen.qformat import shift_round_array

    X, _ = Emulator(program).load(x)
    res = np.zeros_like(X) if program.read_feedback else None
    R, res, _ = program.read_state(X, res)
    for win in program.windows:
        for _ in range(win.steps):
            Rg = np.vstack([np.zeros((1, X.shape[1]), np.int64), R.astype(np.int64)])
            acc = np.zeros((program.n_nodes + 1, X.shape[1]), np.int64)
            for (k, a, b), params in zip(win.kind_ranges, win.params):
                kp = program.kinds[k]
                fmts = kp.formats(program.read)
                env = {"v_src": Rg[win.src[a:b]], "v_des": Rg[win.des[a:b]]}
                env.update((name, params[row][:, None]) for row, name in enumerate(kp.params))
                env.update((name, np.int64(raw)) for name, raw, _ in kp.constants)
                for op in kp.ops:
                    args = [env[n] for n in op.args]
                    sh = [op.fmt.frac_bits - fmts[n].frac_bits for n in op.args]
                    if op.code is OpCode.ADD:
                        r = (args[0] << sh[0]) + (args[1] << sh[1])
                    elif op.code is OpCode.SUB:
                        r = (args[0] << sh[0]) - (args[1] << sh[1])
                    elif op.code is OpCode.MUL:
                        r = args[0] * args[1]
                    elif op.code is OpCode.NEG:
                        r = -args[0]
                    elif op.code is OpCode.MULC:
                        r = args[0] * op.const
                    elif op.code is OpCode.RELU:
                        r = np.maximum(args[0], 0)
                    elif op.code is OpCode.LEAKY:
                        r = np.where(args[0] >= 0, args[0],
                                     (args[0] * op.const + (1 << (op.const_frac - 1))) >> op.const_frac)
                    else:
                        r = program.tanh.eval_raw(args[0], fmts[op.args[0]].frac_bits)
                    env[op.out] = r
                cur = env[kp.current.out] << kp.acc_shift
                np.add.at(acc, win.des[a:b], cur)
                np.add.at(acc, win.src[a:b], -cur)
            inc = shift_round_array(acc[1:] * win.coef[:, None], win.update_shift, program.integrator.rounding)
            X, _ = program.integrator.fit_array(X + inc)
            R, res, _ = program.read_state(X, res)
    return X


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=10, help="Euler steps per window (2 windows)")
    a = ap.parse_args()

    from kgen.quant import QuantConfig
    from kgen.emulation.interp import Emulator
    from kgen.emulation.lower import lower

    circuit, what = mnist_circuit()
    # 18-bit parameters keep mnist's widest intermediate (accumulator x coefficient) within 63 bits
    program = lower(circuit, QuantConfig(param_width=18, steps=(a.steps,) * len(circuit.windows)))
    x = np.random.RandomState(0).rand(a.inputs, len(circuit.inputs))  # pixel-like inputs in [0, 1)
    updates = sum(w.n_edges * w.steps for w in program.windows) * a.inputs
    print(f"bit-exact model on {what}: {circuit.n_nodes} nodes, {program.windows[0].n_edges} edges/window, "
          f"{a.inputs} inputs, {program.total_steps} Euler steps, {a.threads} threads")
    emu = Emulator(program, threads=a.threads)
    emu.run(x[:2])  # plan the chunks once
    t0 = time.perf_counter()
    ours = emu.run(x)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = straightforward(program, x)
    t_base = time.perf_counter() - t0
    if not np.array_equal(ours.final, base):
        raise SystemExit("MISMATCH: the vectorised model and the straightforward version disagree")
    r_ours, r_base = updates / t_ours, updates / t_base
    print(f"straightforward (gather, compute, np.add.at): {t_base:7.2f} s  {r_base:10.3g} edge updates/s")
    print(f"kgen emulation.interp:                        {t_ours:7.2f} s  {r_ours:10.3g} edge updates/s")
    print(f"bit-identical final states; speed-up {r_ours / r_base:.2f}x; target 5e7/s: "
          f"{'met' if r_ours >= 5e7 else 'NOT met'}")


if __name__ == "__main__":
    main()

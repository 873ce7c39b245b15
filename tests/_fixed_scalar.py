"""A second, deliberately plain interpreter of the lowered program: Python ints, one edge and one sample at a time.

Written from the op table in emulation/program.py, sharing nothing with the
vectorised NumPy model except the program itself and QFormat's scalar
operations (property-tested against Fraction in test_qformat_props.py).
"""

from __future__ import annotations

from kgen.emulation.program import OpCode, Program


def rshift_round(x: int, sh: int, rounding: str) -> int:
    """x / 2**sh rounded by `rounding` (sh <= 0: an exact left shift)."""
    if sh <= 0:
        return x * 2 ** -sh
    q, r = divmod(x, 2 ** sh)  # floor division: q = floor(x / 2**sh), 0 <= r < 2**sh
    half = 2 ** (sh - 1)
    if rounding == "truncate":
        return q
    if rounding == "half_up":
        return q + (r >= half)
    return q + (r > half or (r == half and q % 2 == 1))


def edge_current(program: Program, k: int, params: list[int], v_src: int, v_des: int) -> int:
    """The current of one edge of program kind k (raw, at the accumulator's fraction bits)."""
    kp = program.kinds[k]
    fmts = kp.formats(program.read)
    env = {"v_src": v_src, "v_des": v_des}
    env.update(zip(kp.params, params))
    env.update((name, raw) for name, raw, _ in kp.constants)
    for op in kp.ops:
        f = op.fmt.frac_bits
        a = env[op.args[0]]
        fa = fmts[op.args[0]].frac_bits
        if op.code in (OpCode.ADD, OpCode.SUB):
            b, fb = env[op.args[1]], fmts[op.args[1]].frac_bits
            a, b = a * 2 ** (f - fa), b * 2 ** (f - fb)
            r = a + b if op.code is OpCode.ADD else a - b
        elif op.code is OpCode.MUL:
            r = a * env[op.args[1]]
        elif op.code is OpCode.NEG:
            r = -a
        elif op.code is OpCode.MULC:
            r = a * op.const
        elif op.code is OpCode.RELU:
            r = a if a > 0 else 0
        elif op.code is OpCode.LEAKY:
            r = a if a >= 0 else (a * op.const + 2 ** (op.const_frac - 1)) // 2 ** op.const_frac
        elif op.code is OpCode.TANH:
            r = program.tanh.eval_int(a, fa)
        else:
            raise AssertionError(op.code)
        assert op.fmt.min_raw <= r <= op.fmt.max_raw, f"{op} out of its format: {r}"
        env[op.out] = r
    return env[kp.current.out] * 2 ** kp.acc_shift


def run(program: Program, X0: list[list[int]]) -> tuple[list[list[list[int]]], int]:
    """States (steps+1, N, B) of the integrator from X0 (N, B); also the saturation count."""
    n, batch = program.n_nodes, len(X0[0])
    fi, fr = program.integrator.frac_bits, program.read.frac_bits
    X = [[X0[i][b] for b in range(batch)] for i in range(n)]
    res = [[0] * batch for _ in range(n)]
    sats = 0

    def read(i, b):
        nonlocal sats
        t = X[i][b] + (res[i][b] if program.read_feedback else 0)
        r, flag = program.read.rescale(t, fi)
        sats += flag
        if program.read_feedback:
            res[i][b] = program.residue.fit(t - r * 2 ** (fi - fr))[0]
        return r

    R = [[read(i, b) for b in range(batch)] for i in range(n)]
    states = [[row[:] for row in X]]
    for win in program.windows:
        for _ in range(win.steps):
            acc = [[0] * batch for _ in range(n)]
            for k, a, stop in win.kind_ranges:
                params = win.params[[kr[0] for kr in win.kind_ranges].index(k)]
                for e in range(a, stop):
                    s, d = int(win.src[e]), int(win.des[e])
                    p = [int(params[row, e - a]) for row in range(params.shape[0])]
                    for b in range(batch):
                        vs = R[s - 1][b] if s else 0
                        vd = R[d - 1][b] if d else 0
                        i = edge_current(program, k, p, vs, vd)
                        if d:
                            acc[d - 1][b] += i
                        if s:
                            acc[s - 1][b] -= i
            for i in range(n):
                for b in range(batch):
                    assert program.acc.fits(acc[i][b])
                    prod = acc[i][b] * int(win.coef[i])
                    inc = rshift_round(prod, win.update_shift, program.integrator.rounding.value)
                    X[i][b], flag = program.integrator.fit(X[i][b] + inc)
                    sats += flag
            R = [[read(i, b) for b in range(batch)] for i in range(n)]
            states.append([row[:] for row in X])
    return states, sats

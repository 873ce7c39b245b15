"""Lowering: every device kind's integer program against exact arithmetic, widths, parameter formats, dt."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import sympy

from _fixed_scalar import edge_current
from kgen.devices import DEVICE_KINDS, LEAKY_SLOPE, PIECES, Activation
from kgen.quant import QuantConfig
from kgen.emulation.lower import lower, steps_for
from kgen.emulation.program import OpCode
from kgen.qformat import MAX_WIDTH, QFormat
from kgen.emulation.tanh_table import TanhSpec, build_table
from kgen.errors import InputError, UnsupportedError
from kgen.examples import demo_circuit, random_circuit


def one_kind(kind: str, seed: int = 0):
    return random_circuit(seed, n_nodes=4, n_windows=2, n_edges=10, kinds=(kind,), name=kind)


def piece_value(program, k, params, piece):
    """The exact rational the program uses for a canonical piece (stored raw or constant)."""
    kp = program.kinds[k]
    if piece in kp.params:
        row = kp.params.index(piece)
        return Fraction(int(params[row])) * kp.param_formats[row].lsb
    if piece == "w_des" and DEVICE_KINDS[kp.kind].is_difference:
        return -piece_value(program, k, params, "w_src")
    return Fraction(DEVICE_KINDS[kp.kind].constant_pieces[piece])


@pytest.mark.parametrize("kind", sorted(DEVICE_KINDS))
def test_every_kind_lowers_to_its_device_equation(kind):
    circuit = one_kind(kind)
    prog = lower(circuit, QuantConfig(steps=(2, 2)))
    (kp,) = prog.kinds
    assert kp.kind == kind and kp.activation is DEVICE_KINDS[kind].activation
    # difference kinds subtract the terminals first; the stored pieces are exactly the non-constant ones
    assert (kp.ops[0].code is OpCode.SUB) == DEVICE_KINDS[kind].is_difference
    expect = [p for p in PIECES if DEVICE_KINDS[kind].constant_pieces[p] is None and not (p == "w_des" and DEVICE_KINDS[kind].is_difference)]
    assert list(kp.params) == expect
    acc_lsb = prog.acc.lsb
    rng = np.random.RandomState(1)
    read = prog.read
    table = prog.tanh
    z_sym = sympy.Symbol("z", real=True)
    act_expr = DEVICE_KINDS[kind].activation.sympy(z_sym)
    for win in prog.windows:
        (k, a, b), params = win.kind_ranges[0], win.params[0]
        for e in range(b - a):
            p = params[:, e]
            for vs, vd in rng.randint(read.min_raw, read.max_raw + 1, size=(4, 2)):
                cur = edge_current(prog, k, [int(v) for v in p], int(vs), int(vd))
                got = Fraction(cur) * acc_lsb
                q = {name: piece_value(prog, k, p, name) for name in PIECES}
                z = q["w_src"] * Fraction(int(vs)) * read.lsb + q["w_des"] * Fraction(int(vd)) * read.lsb + q["bias"]
                act = kp.activation
                if act in (Activation.RELU, Activation.IDENTITY):
                    exact = q["scale"] * Fraction(str(act_expr.subs(z_sym, sympy.Rational(z.numerator, z.denominator))))
                    assert got == exact  # bit-exact: no rounding anywhere
                elif act is Activation.LEAKY_RELU:
                    op = next(o for o in kp.ops if o.code is OpCode.LEAKY)
                    c_q = Fraction(op.const, 2 ** op.const_frac)
                    exact = q["scale"] * (z if z >= 0 else c_q * z)
                    z_frac = kp.formats(read)[op.args[0]].frac_bits
                    assert abs(got - exact) <= abs(q["scale"]) * Fraction(1, 2 ** (z_frac + 1))
                    assert abs(c_q - Fraction(LEAKY_SLOPE)) <= Fraction(1, 2 ** (op.const_frac + 1))
                else:
                    exact = float(q["scale"]) * float(sympy.tanh(sympy.Rational(z.numerator, z.denominator)))
                    assert abs(float(got) - exact) <= abs(float(q["scale"])) * table.max_error_with_rounding


def test_op_formats_hold_every_value_and_the_checker_limits_widths():
    prog = lower(demo_circuit(), QuantConfig(steps=(5, 5, 5)))
    assert max(b for _, b in prog.widths()) <= MAX_WIDTH
    # an op list evaluated at the extremes of its inputs stays inside the op formats (asserted in edge_current)
    for k, kp in enumerate(prog.kinds):
        n = len(kp.params)
        for ext in ((0, 0), (1, 1), (0, 1), (1, 0)):
            vs = prog.read.min_raw if ext[0] == 0 else prog.read.max_raw
            vd = prog.read.min_raw if ext[1] == 0 else prog.read.max_raw
            for pick in (min, max):
                params = [pick(f.min_raw, f.max_raw) for f in kp.param_formats]
                edge_current(prog, k, params[:n], vs, vd)
    with pytest.raises(UnsupportedError) as e:
        lower(demo_circuit(), QuantConfig(param_width=40, coef_width=40, steps=(5, 5, 5)))
    msg = str(e.value)
    assert "\n" not in msg and "at most 63 bits" in msg and "intermediate" in msg


def test_accumulator_bound_covers_the_worst_case_sum():
    circuit = random_circuit(3, n_nodes=5, n_edges=30)
    prog = lower(circuit, QuantConfig(steps=(1, 1, 1)))
    for win in prog.windows:
        worst = np.zeros(prog.n_nodes, dtype=object)
        for (k, a, b), params in zip(win.kind_ranges, win.params):
            for e in range(b - a):
                p = [int(v) for v in params[:, e]]
                best = max(abs(edge_current(prog, k, p, vs, vd)) for vs in (prog.read.min_raw, 0, prog.read.max_raw)
                           for vd in (prog.read.min_raw, 0, prog.read.max_raw))
                for node in (win.src[a + e], win.des[a + e]):
                    if node:
                        worst[node - 1] += best
        assert all(int(w) <= int(bd) for w, bd in zip(worst, win.acc_bound))
        assert prog.acc.fits(int(win.acc_bound.max())) and prog.acc.fits(-int(win.acc_bound.max()))


def test_parameter_that_does_not_fit_names_the_parameter_and_the_bits_it_needs():
    circuit = demo_circuit()
    cfg = QuantConfig(steps=(5, 5, 5), param_formats=(("ShiftTanh2", "w_src", QFormat.parse("s0.8")),))
    with pytest.raises(InputError) as e:
        lower(circuit, cfg)
    msg = str(e.value)
    assert "\n" not in msg and "w_src" in msg and "ShiftTanh2" in msg and "s1.8" in msg and "integer bits" in msg
    prog = lower(circuit, replace(cfg, allow_saturation=True))
    assert sum(n for _, n in prog.param_saturations) == 2
    with pytest.raises(InputError, match="stored piece"):
        lower(circuit, replace(cfg, param_formats=(("ShiftRelu1", "w_src", QFormat.parse("s2.8")),)))


def test_dt_mantissa_and_exponent_per_window_tile_non_dyadic_windows():
    circuit = random_circuit(1, n_windows=3, t_window=0.1)
    steps = steps_for(circuit, 0.03)
    assert steps == (4, 4, 4)
    prog = lower(circuit, QuantConfig(steps=steps, coef_width=16))
    for w in prog.windows:
        k = w.dt / circuit.capacitance
        got = w.coef.astype(float) * 2.0 ** -w.coef_fmt.frac_bits
        assert np.all(np.abs(got - k) <= 2.0 ** -(w.coef_fmt.frac_bits + 1))
        assert w.coef_fmt.width == 16 and np.abs(w.coef).max() >= 2 ** 13  # the exponent uses the mantissa
        assert w.update_shift == prog.acc.frac_bits + w.coef_fmt.frac_bits - prog.integrator.frac_bits
    rev = lower(circuit, QuantConfig(steps=steps), reverse=True)
    assert [w.window for w in rev.windows] == [2, 1, 0] and all(np.all(w.coef < 0) for w in rev.windows)
    assert rev.step_times()[0] == circuit.t_final and rev.step_times()[-1] == pytest.approx(0.0)


def test_tanh_table_error_symmetry_clamp_and_zero():
    table = build_table(TanhSpec())
    assert table.max_error < 3.3e-6  # 1024 segments, minimax-lifted chords, 22-bit output
    assert build_table(TanhSpec(segments=256)).max_error > 10 * table.max_error
    s = table.spec
    z = np.arange(-(9 << s.arg_frac), 9 << s.arg_frac, 997, dtype=np.int64)
    y = table.eval_raw(z, s.arg_frac)
    assert np.array_equal(table.eval_raw(-z, s.arg_frac), -y)  # odd symmetry, exactly
    assert table.eval_raw(np.array([0]), s.arg_frac)[0] == 0
    assert np.abs(y).max() <= (1 << s.out_frac) - 1  # capped below 1
    last = table.eval_raw(np.array([(8 << s.arg_frac) - 1]), s.arg_frac)[0]
    assert np.all(table.eval_raw(np.array([8 << s.arg_frac, 100 << s.arg_frac]), s.arg_frac) == last)  # clamp
    err = np.abs(np.ldexp(y.astype(float), -s.out_frac) - np.tanh(np.ldexp(z.astype(float), -s.arg_frac)))
    assert err.max() <= table.max_error
    # scalar and vector evaluation agree, including an argument with more fraction bits (rounded)
    zz = np.array([-12345678901, -3, 0, 5, 98765432101], dtype=np.int64)
    assert [table.eval_int(int(v), 30) for v in zz] == table.eval_raw(zz, 30).tolist()


def test_lowering_is_deterministic():
    a = lower(demo_circuit(), QuantConfig(steps=(3, 3, 3)))
    b = lower(demo_circuit(), QuantConfig(steps=(3, 3, 3)))
    assert a.describe() == b.describe() and a.manifest() == b.manifest()
    for wa, wb in zip(a.windows, b.windows):
        assert all(np.array_equal(x, y) for x, y in zip(wa.params, wb.params))
        assert np.array_equal(wa.coef, wb.coef) and np.array_equal(wa.edge_id, wb.edge_id)


def test_fitted_formats_always_hold_the_parameters_even_with_a_coarse_read_word():
    """A bias added to a coarse read value gets fewer fraction bits; its integer part must still hold it."""
    from kgen.circuit import Window

    base = random_circuit(3, n_nodes=4, n_windows=2, n_edges=12, kinds=("ShiftRelu1",))
    small = tuple(Window(w.t_start, w.t_end, w.edges, w.params * 0.1) for w in base.windows)  # |bias| < 0.25
    circuit = replace(base, windows=small)
    for read, integ in (("s16.2", "s16.16"), ("s7.11", "s7.25"), ("s2.20", "s2.30")):
        prog = lower(circuit, QuantConfig(read=QFormat.parse(read), integrator=QFormat.parse(integ), steps=(1, 1)))
        (kp,) = prog.kinds
        bias = kp.param_formats[kp.params.index("bias")]
        assert bias.frac_bits <= prog.read.frac_bits and prog.param_saturations == ()

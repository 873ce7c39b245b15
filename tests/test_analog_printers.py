"""The sympy printers: every device kind in every language, plain numbers, strictness."""

import re

import numpy as np
import pytest
import sympy

from kgen.codegen.numfmt import num, operand
from kgen.codegen.printers import (NgspicePrinter, SpectrePrinter, VerilogAPrinter, XycePrinter, device_text,
                                   spice_format)
from kgen.devices import DEVICE_KINDS, V_DES, V_SRC
from kgen.errors import CircuitError, UnsupportedError

PRINTERS = [(NgspicePrinter, "ngspice", "v({})"), (XycePrinter, "xyce", "V({})"),
            (SpectrePrinter, "spectre", "V({})")]


@pytest.mark.parametrize("printer,dialect,voltage", PRINTERS)
@pytest.mark.parametrize("kind", sorted(DEVICE_KINDS))
def test_spice_format_evaluates_to_the_library_expression(kind, printer, dialect, voltage):
    """Substituting numbers into the printed template and evaluating it gives the sympy current."""
    fmt = spice_format(printer, kind, dialect, voltage)
    rng = np.random.default_rng(3)
    p = rng.normal(size=DEVICE_KINDS[kind].n_rows)
    vs, vd = 0.7, -0.4
    text = fmt.format(src="S", des="D", **{f"p{k}": operand(num(v)) for k, v in enumerate(p)})
    py = text.replace(voltage.format("S"), f"({vs!r})").replace(voltage.format("D"), f"({vd!r})")
    value = eval(py, {"tanh": np.tanh, "max": max, "min": min, "exp": np.exp, "sqrt": np.sqrt, "abs": abs,
                      "pow": pow})
    expected = float(DEVICE_KINDS[kind].expression().subs({V_SRC: vs, V_DES: vd,
                                                            **dict(zip(DEVICE_KINDS[kind].params, p))}))
    assert value == pytest.approx(expected, abs=1e-14)


def test_verilog_a_prints_natural_log_as_ln_and_max_nested():
    x, y, z = sympy.symbols("x y z", real=True)
    pr = VerilogAPrinter({x: "x", y: "y", z: "z"})
    assert pr.doprint(sympy.log(x)) == "ln(x)"
    assert pr.doprint(sympy.Max(x, y, z)) in ("max(x, max(y, z))", "max(y, max(x, z))", "max(z, max(x, y))",
                                              "max(x, max(z, y))", "max(y, max(z, x))", "max(z, max(y, x))")
    assert pr.doprint(sympy.Float(1e-5) * x) == "1e-05*x"


def test_numbers_are_plain_round_trip_decimals():
    for x in (1e-5, 1e-15, 0.1, -0.30000000000000004, 123456789.123, 6.02e23):
        text = num(x)
        assert float(text) == x
        assert re.fullmatch(r"-?[0-9.]+(e[-+][0-9]+)?", text), text  # never an SI suffix
    assert operand("-0.5") == "(-0.5)" and operand("0.5") == "0.5"
    with pytest.raises(CircuitError, match="expected a finite number, found inf"):
        num(float("inf"), "current scale")


def test_used_params_skip_unused_rows():
    assert [p.name for p in DEVICE_KINDS["ShiftTanh1"].used_params] == ["p0", "p1"]
    assert [p.name for p in DEVICE_KINDS["Conductance"].used_params] == ["p0"]
    assert [p.name for p in DEVICE_KINDS["ShiftTanh2"].used_params] == ["p0", "p1", "p2"]


def test_strict_printer_refuses_a_function_without_a_verified_spelling():
    kind = DEVICE_KINDS["ShiftTanh2"]
    symbols = {V_SRC: "a", V_DES: "b", **{p: p.name for p in kind.params}}
    expr = sympy.erf(V_SRC)
    with pytest.raises(Exception):
        NgspicePrinter(symbols).doprint(expr)
    # the device-level wrapper names the kind and the dialect in one line
    with pytest.raises(UnsupportedError) as info:
        device_text(type("NoTanh", (XycePrinter,), {"functions": {}}), "ShiftTanh2", symbols, "xyce")
    assert str(info.value) == ("device kind ShiftTanh2: expected a current the xyce dialect can express, "
                               "found tanh(...)")

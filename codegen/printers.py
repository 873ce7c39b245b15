"""sympy printers from the device library to Verilog-A and the SPICE dialects.

Every device current is printed from `DeviceKind.expression()` by one of these
`CodePrinter` subclasses with `strict=True`: a function a language has no
verified spelling for raises, and `device_text` turns that into a one-line
UnsupportedError naming the device kind and the dialect. Symbols are printed
through a table the caller gives (terminal voltages, parameter names or
`str.format` placeholders), numbers as plain-exponent round-trip decimals.
"""

from __future__ import annotations

import functools

import sympy
from sympy.printing.codeprinter import CodePrinter, PrintMethodNotImplementedError

from kgen.devices import DEVICE_KINDS, V_DES, V_SRC
from kgen.errors import UnsupportedError, expected_found

from .numfmt import num


class DevicePrinter(CodePrinter):
    """Base printer: arithmetic, numbers and a per-language table of functions.

    `functions` maps a sympy function class name to the language's spelling;
    anything else (including Max/Min where `minmax` is None) is unsupported.
    """

    language = "device"
    printmethod = "_kgen_device"
    functions: dict[str, str] = {}
    minmax: tuple[str, str] | None = None  # (max, min) spellings
    power: str | None = None  # pow(a, b) spelling

    _default_settings = dict(CodePrinter._default_settings, strict=True, human=True)

    def __init__(self, symbols: dict[sympy.Symbol, str]):
        super().__init__({"strict": True})
        self.symbols = dict(symbols)
        self.known_functions = dict(self.functions)

    # names ------------------------------------------------------------------
    def _print_Symbol(self, expr):
        try:
            return self.symbols[expr]
        except KeyError:
            raise PrintMethodNotImplementedError(f"symbol {expr}") from None

    # numbers ----------------------------------------------------------------
    def _print_Float(self, expr):
        return num(float(expr))

    def _print_Integer(self, expr):
        return num(float(int(expr)))

    def _print_Rational(self, expr):
        return num(float(expr))

    def _print_One(self, expr):
        return "1.0"

    def _print_Zero(self, expr):
        return "0.0"

    def _print_NegativeOne(self, expr):
        return "-1.0"

    def _print_Half(self, expr):
        return "0.5"

    # functions ----------------------------------------------------------------
    def _minmax(self, expr, which: int) -> str:
        if self.minmax is None:
            return self._print_not_supported(expr)
        name = self.minmax[which]
        args = [self._print(a) for a in expr.args]
        out = args[-1]
        for a in reversed(args[:-1]):  # nested binary calls: max(a, max(b, c))
            out = f"{name}({a}, {out})"
        return out

    def _print_Max(self, expr):
        return self._minmax(expr, 0)

    def _print_Min(self, expr):
        return self._minmax(expr, 1)

    def _print_Pow(self, expr):
        base, exp = expr.args
        if exp == -1:
            return f"1.0/({self._print(base)})"
        if exp == 2:
            b = self._print(base)
            return f"({b})*({b})"
        if self.power is None:
            return self._print_not_supported(expr)
        return f"{self.power}({self._print(base)}, {self._print(exp)})"

    # CodePrinter hooks that only matter for statements (never used here)
    def _rate_index_position(self, p):
        return p

    def _get_statement(self, codestring):
        return codestring

    def _get_comment(self, text):
        return text

    def _declare_number_const(self, name, value):
        return f"{name} = {value}"

    def _format_code(self, lines):
        return lines

    def _traverse_matrix_indices(self, mat):
        return []


class VerilogAPrinter(DevicePrinter):
    language = "Verilog-A"
    # Verilog-A's log() is base 10: the natural logarithm is ln().
    functions = {"tanh": "tanh", "exp": "exp", "log": "ln", "sqrt": "sqrt", "Abs": "abs"}
    minmax = ("max", "min")
    power = "pow"


class NgspicePrinter(DevicePrinter):
    language = "ngspice"
    functions = {"tanh": "tanh", "exp": "exp", "log": "ln", "sqrt": "sqrt", "Abs": "abs"}
    minmax = ("max", "min")
    power = "pow"


class XycePrinter(DevicePrinter):
    # golden text only: just the functions whose spelling is the same in every SPICE
    language = "xyce"
    functions = {"tanh": "tanh", "exp": "exp", "sqrt": "sqrt", "Abs": "abs"}
    minmax = ("max", "min")
    power = "pow"


class SpectrePrinter(DevicePrinter):
    # Spectre bsource expressions (golden text only)
    language = "spectre"
    functions = {"tanh": "tanh", "exp": "exp", "sqrt": "sqrt", "Abs": "abs"}
    minmax = ("max", "min")
    power = "pow"


def device_text(printer_class: type[DevicePrinter], kind_name: str, symbols: dict[sympy.Symbol, str],
                dialect: str, grounded: tuple[bool, bool] = (False, False)) -> str:
    """Print one device kind's current; an inexpressible device is a one-line UnsupportedError.

    `grounded` (src, des): a terminal on ground is 0 V, substituted before printing so the
    simulator does not differentiate with respect to it."""
    expr = DEVICE_KINDS[kind_name].expression()
    ground = {v: 0 for v, g in zip((V_SRC, V_DES), grounded) if g}
    if ground:
        expr = expr.subs(ground)
    try:
        return printer_class(symbols).doprint(expr)
    except PrintMethodNotImplementedError as exc:
        what = _first_unsupported(expr, printer_class, symbols)
        raise UnsupportedError(expected_found(
            f"device kind {kind_name}", f"a current the {dialect} dialect can express",
            what or str(exc).splitlines()[0])) from None


def _first_unsupported(expr, printer_class, symbols) -> str | None:
    """Name the innermost sub-expression the printer rejects (for the error line)."""
    for sub in sympy.postorder_traversal(expr):
        if sub.is_Atom:
            continue
        try:
            printer_class(symbols).doprint(sub)
        except PrintMethodNotImplementedError:
            return f"{type(sub).__name__}(...)"
    return None


@functools.lru_cache(maxsize=None)
def spice_format(printer_class: type[DevicePrinter], kind_name: str, dialect: str, voltage: str,
                 grounded: tuple[bool, bool] = (False, False)) -> str:
    """A `str.format` template of one device's current: `{src}`, `{des}` node names, `{p0}`... numbers.

    `voltage` spells a node voltage with a `{}` slot, e.g. "v({})"; `grounded` as in device_text.
    """
    symbols = {V_SRC: voltage.format("{src}"), V_DES: voltage.format("{des}")}
    symbols.update({p: "{" + p.name + "}" for p in DEVICE_KINDS[kind_name].params})
    return device_text(printer_class, kind_name, symbols, dialect, grounded)

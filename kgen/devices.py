"""The device library: every learnable two-terminal edge, written once in sympy.

Each device kind's current is written in the canonical form

    i = scale * act(w_src * v_src + w_des * v_des + bias)

where scale, w_src, w_des and bias are sympy expressions of the kind's
parameter rows p0, p1, ... (the rows the original KirchhoffNet allocates,
unused rows included so its checkpoints load). The full expression
`DeviceKind.expression()` is built from those four pieces, so the printers
(Verilog-A, SPICE), the torch model and the closed-form derivatives all derive
from this one definition. The current flows out of src and into des.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

import sympy

from .errors import UnsupportedError, expected_found

#: Negative-side slope of leaky_relu (torch.nn.functional.leaky_relu's default).
LEAKY_SLOPE = 0.01

V_SRC, V_DES = sympy.symbols("v_src v_des", real=True)


def param_symbols(n_rows: int) -> tuple[sympy.Symbol, ...]:
    return tuple(sympy.Symbol(f"p{k}", real=True) for k in range(n_rows))


class Activation(enum.Enum):
    IDENTITY = "identity"
    RELU = "relu"
    LEAKY_RELU = "leaky_relu"
    TANH = "tanh"

    def sympy(self, z: sympy.Expr) -> sympy.Expr:
        if self is Activation.IDENTITY:
            return z
        if self is Activation.RELU:
            return sympy.Max(0, z)
        if self is Activation.LEAKY_RELU:
            # max(z, 0.01 z) equals leaky_relu because the slope is below 1.
            return sympy.Max(z, sympy.Float(LEAKY_SLOPE) * z)
        return sympy.tanh(z)


@dataclass(frozen=True)
class DeviceKind:
    """One device kind: its name, parameter rows and canonical pieces."""

    name: str
    n_rows: int
    used_rows: tuple[int, ...]
    activation: Activation
    scale: str
    w_src: str
    w_des: str
    bias: str
    doc: str

    def _piece(self, text: str) -> sympy.Expr:
        return sympy.sympify(text, locals={p.name: p for p in param_symbols(self.n_rows)})

    def pieces(self) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr, sympy.Expr]:
        """(scale, w_src, w_des, bias) as sympy expressions of p0..p{n_rows-1}."""
        return tuple(self._piece(t) for t in (self.scale, self.w_src, self.w_des, self.bias))

    def argument(self) -> sympy.Expr:
        """The activation's argument z = w_src*v_src + w_des*v_des + bias."""
        _, ws, wd, b = self.pieces()
        return ws * V_SRC + wd * V_DES + b

    def expression(self) -> sympy.Expr:
        """The edge current i(v_src, v_des; p) as one sympy expression."""
        scale = self.pieces()[0]
        return scale * self.activation.sympy(self.argument())

    @property
    def params(self) -> tuple[sympy.Symbol, ...]:
        return param_symbols(self.n_rows)


def _kinds() -> dict[str, DeviceKind]:
    A = Activation
    table = [
        DeviceKind("ShiftRelu1", 2, (0, 1), A.RELU, "p1", "1", "-1", "-p0",
                   "p1 * relu(d - p0), d = v_src - v_des"),
        DeviceKind("ShiftLeakyRelu1", 2, (0, 1), A.LEAKY_RELU, "p1", "1", "-1", "-p0",
                   "p1 * leaky_relu(d - p0), d = v_src - v_des"),
        DeviceKind("ShiftRelu2", 3, (0, 1, 2), A.RELU, "1", "p0", "p1", "p2",
                   "relu(p0 * v_src + p1 * v_des + p2)"),
        DeviceKind("ShiftLeakyRelu2", 3, (0, 1, 2), A.LEAKY_RELU, "1", "p0", "p1", "p2",
                   "leaky_relu(p0 * v_src + p1 * v_des + p2)"),
        DeviceKind("ShiftTanh1", 3, (0, 1), A.TANH, "1", "p1", "-p1", "p0",
                   "tanh(p1 * d + p0), d = v_src - v_des (row 2 allocated, unused)"),
        DeviceKind("ShiftTanh2", 3, (0, 1, 2), A.TANH, "1", "p0", "p1", "p2",
                   "tanh(p0 * v_src + p1 * v_des + p2)"),
        DeviceKind("Conductance", 3, (0,), A.IDENTITY, "p0", "1", "-1", "0",
                   "p0 * d, d = v_src - v_des (rows 1, 2 allocated, unused)"),
    ]
    # The original's generic `Device(negation, activation)`: negation=True is
    # act(p1 * d + p0) on two rows, negation=False act(p0 v_src + p1 v_des + p2).
    for act in Activation:
        camel = "".join(part.capitalize() for part in act.value.split("_"))
        table.append(DeviceKind(f"Diff{camel}", 2, (0, 1), act, "1", "p1", "-p1", "p0",
                                f"{act.value}(p1 * d + p0), d = v_src - v_des"))
        table.append(DeviceKind(f"Affine{camel}", 3, (0, 1, 2), act, "1", "p0", "p1", "p2",
                                f"{act.value}(p0 * v_src + p1 * v_des + p2)"))
    return {k.name: k for k in table}


DEVICE_KINDS: dict[str, DeviceKind] = _kinds()


def device_kind(name: str) -> DeviceKind:
    try:
        return DEVICE_KINDS[name]
    except KeyError:
        raise UnsupportedError(expected_found(
            "device kind", "one of " + ", ".join(sorted(DEVICE_KINDS)), repr(name))) from None


@functools.lru_cache(maxsize=None)
def piece_functions(name: str):
    """Numeric functions (rows -> array) for scale, w_src, w_des, bias.

    The generated code is plain arithmetic on the row arguments, so it runs
    on NumPy arrays and torch tensors alike (autograd flows through it).
    """
    kind = DEVICE_KINDS[name]
    return tuple(sympy.lambdify(kind.params, piece, modules="math") for piece in kind.pieces())

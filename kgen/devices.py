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
    """An edge nonlinearity. Its sympy, torch, NumPy and interval forms stand together here, so a
    new activation is added in one place; the tests hold every form against the sympy one."""

    IDENTITY = "identity"
    RELU = "relu"
    LEAKY_RELU = "leaky_relu"
    TANH = "tanh"

    # -- sympy: what the printers and the derivatives start from ----------------------------------
    def sympy(self, z: sympy.Expr) -> sympy.Expr:
        if self is Activation.IDENTITY:
            return z
        if self is Activation.RELU:
            return sympy.Max(0, z)
        if self is Activation.LEAKY_RELU:
            # max(z, 0.01 z) equals leaky_relu because the slope is below 1.
            return sympy.Max(z, sympy.Float(LEAKY_SLOPE) * z)
        return sympy.tanh(z)

    # -- torch (the float reference; the caller has torch loaded) ------------------------------------
    def torch(self, z):
        """act(z), differentiable."""
        if self is Activation.TANH:
            return z.tanh()
        if self is Activation.RELU:
            return z.relu()
        if self is Activation.LEAKY_RELU:
            import torch.nn.functional as F

            return F.leaky_relu(z, LEAKY_SLOPE)
        return z

    def torch_(self, z):
        """act(z) in place (no autograd)."""
        if self is Activation.TANH:
            return z.tanh_()
        if self is Activation.RELU:
            return z.relu_()
        if self is Activation.LEAKY_RELU:
            import torch.nn.functional as F

            return F.leaky_relu_(z, LEAKY_SLOPE)
        return z

    def torch_with_slope(self, z):
        """(act(z), act'(z)); at a kink the slope is the right-hand one's complement (torch's convention)."""
        import torch

        if self is Activation.TANH:
            y = torch.tanh(z)
            return y, 1 - y * y
        if self is Activation.RELU:
            pos = z > 0
            return torch.where(pos, z, torch.zeros_like(z)), pos.to(z.dtype)
        if self is Activation.LEAKY_RELU:
            pos = z > 0
            return (torch.where(pos, z, LEAKY_SLOPE * z),
                    torch.where(pos, torch.ones_like(z), torch.full_like(z, LEAKY_SLOPE)))
        return z, torch.ones_like(z)

    # -- NumPy (float Euler, the error bound) ----------------------------------------------------------
    def numpy(self, z):
        import numpy as np

        if self is Activation.TANH:
            return np.tanh(z)
        if self is Activation.RELU:
            return np.maximum(z, 0.0)
        if self is Activation.LEAKY_RELU:
            return np.where(z >= 0, z, LEAKY_SLOPE * z)
        return z

    def numpy_slope(self, z):
        """act'(z) (the right-hand slope at a kink)."""
        import numpy as np

        if self is Activation.TANH:
            return 1.0 - np.tanh(z) ** 2
        if self is Activation.RELU:
            return (z > 0).astype(np.float64)
        if self is Activation.LEAKY_RELU:
            return np.where(z > 0, 1.0, LEAKY_SLOPE)
        return np.ones_like(z)

    # -- intervals (bounds over a set of arguments) ----------------------------------------------------
    def value_range(self, lo, hi):
        """(min, max) of act over [lo, hi]: every activation here is monotone non-decreasing."""
        return self.numpy(lo), self.numpy(hi)

    def slope_range(self, z, rad):
        """(g_lo, g_hi): the slope's range over [z - rad, z + rad]."""
        import numpy as np

        if self is Activation.TANH:
            near = np.maximum(np.abs(z) - rad, 0.0)
            far = np.abs(z) + rad
            return 1.0 - np.tanh(far) ** 2, 1.0 - np.tanh(near) ** 2
        if self is Activation.RELU:
            return (z - rad > 0).astype(np.float64), (z + rad > 0).astype(np.float64)
        if self is Activation.LEAKY_RELU:
            return np.where(z - rad > 0, 1.0, LEAKY_SLOPE), np.where(z + rad > 0, 1.0, LEAKY_SLOPE)
        one = np.ones_like(z)
        return one, one


PIECES = ("scale", "w_src", "w_des", "bias")


@dataclass(frozen=True)
class DeviceKind:
    """One device kind: its name, parameter rows and canonical pieces."""

    name: str
    n_rows: int
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

    # Derived facts, each computed once per kind (the pieces are sympy: cheap to ask, not free).
    @functools.cached_property
    def used_params(self) -> tuple[sympy.Symbol, ...]:
        """The parameter symbols the current depends on, in row order."""
        free = self.expression().free_symbols
        return tuple(p for p in self.params if p in free)

    @functools.cached_property
    def used_rows(self) -> tuple[int, ...]:
        """The parameter rows the current depends on (p<r> -> r); the others are allocated, unused."""
        return tuple(int(p.name[1:]) for p in self.used_params)

    @functools.cached_property
    def is_difference(self) -> bool:
        """True when w_des == -w_src symbolically, so z = w_src * (v_src - v_des) + bias."""
        _, ws, wd, _ = self.pieces()
        return bool(sympy.simplify(ws + wd) == 0)

    @functools.cached_property
    def constant_pieces(self) -> dict[str, float | None]:
        """piece -> its constant value, or None where the piece depends on parameters."""
        return {name: float(expr) if expr.is_Number else None for name, expr in zip(PIECES, self.pieces())}


def _kinds() -> dict[str, DeviceKind]:
    A = Activation
    table = [
        DeviceKind("ShiftRelu1", 2, A.RELU, "p1", "1", "-1", "-p0",
                   "p1 * relu(d - p0), d = v_src - v_des"),
        DeviceKind("ShiftLeakyRelu1", 2, A.LEAKY_RELU, "p1", "1", "-1", "-p0",
                   "p1 * leaky_relu(d - p0), d = v_src - v_des"),
        DeviceKind("ShiftRelu2", 3, A.RELU, "1", "p0", "p1", "p2",
                   "relu(p0 * v_src + p1 * v_des + p2)"),
        DeviceKind("ShiftLeakyRelu2", 3, A.LEAKY_RELU, "1", "p0", "p1", "p2",
                   "leaky_relu(p0 * v_src + p1 * v_des + p2)"),
        DeviceKind("ShiftTanh1", 3, A.TANH, "1", "p1", "-p1", "p0",
                   "tanh(p1 * d + p0), d = v_src - v_des (row 2 allocated, unused)"),
        DeviceKind("ShiftTanh2", 3, A.TANH, "1", "p0", "p1", "p2",
                   "tanh(p0 * v_src + p1 * v_des + p2)"),
        DeviceKind("Conductance", 3, A.IDENTITY, "p0", "1", "-1", "0",
                   "p0 * d, d = v_src - v_des (rows 1, 2 allocated, unused)"),
    ]
    # The original's generic `Device(negation, activation)`: negation=True is
    # act(p1 * d + p0) on two rows, negation=False act(p0 v_src + p1 v_des + p2).
    for act in Activation:
        camel = "".join(part.capitalize() for part in act.value.split("_"))
        table.append(DeviceKind(f"Diff{camel}", 2, act, "1", "p1", "-p1", "p0",
                                f"{act.value}(p1 * d + p0), d = v_src - v_des"))
        table.append(DeviceKind(f"Affine{camel}", 3, act, "1", "p0", "p1", "p2",
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

"""A per-step error bound for the bit-exact model, propagated along the float Euler trajectory.

Let u_k be float Euler (original parameters), X_k the bit-exact integrator
at the same dt, e_k = X_k - u_k, and r_k the read copy (|r_k - X_k| <=
rho_r, half a read LSB). With k_n = dt_w / C_n and its stored value k_n':

    e_{k+1,n} = e_{k,n} + k_n sum_e +-[i~_e(r) - i_e(u)] + (k_n' - k_n) I~_n + q_k

(q_k: the increment's rounding, <= rho_i, half an integrator LSB). Each
edge's difference splits into

    i~(r) - i(u) = s'[A~(z'(r)) - A(z'(r))]      activation error: tanh table, leaky rounding
                 + s'[A(z'(r)) - A(z(r))]         quantised w and bias: |dz_p|
                 + (s' - s) A(z(r))               quantised scale
                 + s g (w_src (r_s - u_s) + w_des (r_d - u_d))

with g the activation slope at some point between z(u) and z(r) (mean value
theorem), so g lies in [g_lo, g_hi], its range over z(u) +- R where R
covers every perturbation given |e_k| <= delta_k. With r - u = e + eta:

    e_{k+1} = A_k e_k + (A_k - I) eta_k + l_k,   A_k = I + diag(k) J(g),  J(g) in J_mid +- W

    |l_k| <= k sum_e E_e + |k' - k| Ibar + rho_i     (E_e: the first three terms above)

so the local error is d_k = (|A_mid - I| + W) rho_r + |l_k|, and the state
error is bounded by propagating d_k through the products of A_k:

* dense (N <= DENSE_NODES): a zonotope. Each step's d_k becomes a generator
  block diag(d_k), every block is mapped by A_mid exactly (so rotations and
  cancellations in the flow are kept), the uncertainty W |M| 1 is added as
  a box, and blocks merge in a binary-counter pattern (O(log K) blocks, each
  contribution boxed O(log K) times). delta_k = sum_b |M_b| 1.
* sparse (larger N): componentwise, delta' = (|A_mid| + W) delta + d, with
  the diagonal taken with its sign (dissipative nodes shrink their error).

A Grönwall bound (e^{L T}, L ~ 50-100) is vacuous here; this one follows the
actual trajectory. It holds while nothing saturates (the emulator counts
saturations); float64 rounding of u itself (~1e-15) is negligible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kgen.circuit import Circuit
from kgen.devices import DEVICE_KINDS, LEAKY_SLOPE, Activation

from .edges import PIECES, constant_pieces, is_difference
from .floatref import FloatEuler, act
from .program import OpCode, Program
from .qformat import Rounding

#: Circuits up to this many nodes get the dense (zonotope) propagation.
DENSE_NODES = 32
#: max |d/dz (1 - tanh(z)^2)| = 4 / (3 sqrt 3), rounded up
TANH_SLOPE_LIPSCHITZ = 0.7699


def _rounding_error(lsb: float, rounding: Rounding) -> float:
    return lsb if rounding is Rounding.TRUNCATE else lsb / 2


def quantized_pieces(program: Program, kind_index: int, params: np.ndarray) -> dict[str, np.ndarray | float]:
    """The values the integer program actually uses for each canonical piece of one kind range."""
    from .lower import _const_raw

    kp = program.kinds[kind_index]
    consts = constant_pieces(kp.kind)
    out: dict[str, np.ndarray | float] = {}
    for piece in PIECES:
        if piece in kp.params:
            row = kp.params.index(piece)
            out[piece] = np.ldexp(params[row].astype(np.float64), -kp.param_formats[row].frac_bits)
        elif piece == "w_des" and is_difference(kp.kind):
            out[piece] = -out["w_src"]
        else:
            c = consts[piece]
            if c in (0.0, 1.0, -1.0):
                out[piece] = c
            else:
                raw, frac = _const_raw(c)
                out[piece] = np.ldexp(float(raw), -frac)
    return out


def slope_range(a: Activation, z: np.ndarray, rad: np.ndarray):
    """(g_lo, g_hi): the activation's slope range over [z - rad, z + rad]."""
    if a is Activation.TANH:
        near = np.maximum(np.abs(z) - rad, 0.0)
        far = np.abs(z) + rad
        return 1.0 - np.tanh(far) ** 2, 1.0 - np.tanh(near) ** 2
    if a is Activation.RELU:
        return (z - rad > 0).astype(np.float64), (z + rad > 0).astype(np.float64)
    if a is Activation.LEAKY_RELU:
        return np.where(z - rad > 0, 1.0, LEAKY_SLOPE), np.where(z + rad > 0, 1.0, LEAKY_SLOPE)
    one = np.ones_like(z)
    return one, one


def activation_error(program: Program, kind_index: int) -> tuple[float, float | None]:
    """(fixed error of the integer activation, |leaky slope error| or None)."""
    kp = program.kinds[kind_index]
    fmts = kp.formats(program.read)
    for op in kp.ops:
        if op.code is OpCode.TANH:
            spec = program.tanh.spec
            rounds = fmts[op.args[0]].frac_bits > spec.arg_frac
            return program.tanh.max_error + (2.0 ** -(spec.arg_frac + 1) if rounds else 0.0), None
        if op.code is OpCode.LEAKY:
            return 2.0 ** -(op.fmt.frac_bits + 1), abs(op.const * 2.0 ** -op.const_frac - LEAKY_SLOPE)
    return 0.0, None


@dataclass(frozen=True, eq=False)
class BoundResult:
    float_states: np.ndarray  # (S, N, B) float Euler with the original parameters
    bound: np.ndarray  # (S, N, B) bound on |X_k - u_k|
    method: str  # "zonotope" or "componentwise"


class _Window:
    """Per-window constants: quantised pieces, error terms and the sparse maps edge -> node / J entry."""

    def __init__(self, fe: FloatEuler, program: Program, pw, circuit: Circuit):
        n = circuit.n_nodes
        self.pw = pw
        self.lay = lay = fe.windows[pw.window].edges
        self.kcl = fe.windows[pw.window].kcl
        k_true = pw.dt / circuit.capacitance
        self.k = k_true.reshape(-1, 1)
        k_q = np.ldexp(pw.coef.astype(np.float64), -pw.coef_fmt.frac_bits)
        self.k_err = np.abs(k_q - k_true).reshape(-1, 1)
        e = np.arange(lay.n_edges)

        def sel(idx):
            keep = idx > 0
            return sp.csr_matrix((np.ones(int(keep.sum())), (idx[keep] - 1, e[keep])), shape=(n, lay.n_edges))

        self.to_both = (sel(lay.src) + sel(lay.des)).tocsr()
        self.segs = []
        for (ki, start, stop), params, seg in zip(pw.kind_ranges, pw.params, lay.segments):
            assert seg.kind == program.kinds[ki].kind and (seg.start, seg.stop) == (start, stop)
            q = quantized_pieces(program, ki, params)
            col = lambda v, m=stop - start: np.broadcast_to(np.asarray(v, np.float64), (m,)).reshape(-1, 1)  # noqa
            p = {name: col(seg.pieces[name]) for name in PIECES}
            dq = {name: np.abs(col(q[name]) - p[name]) for name in PIECES}
            p.update({f"abs_{name}": np.abs(p[name]) for name in ("w_src", "w_des", "scale")})
            eps, leaky = activation_error(program, ki)
            self.segs.append((seg, DEVICE_KINDS[seg.kind].activation, p, np.abs(col(q["scale"])), dq, eps, leaky))
        jac = fe.windows[pw.window].jac
        self.J, self.Jabs, self.Jdiag, self.Jdiag_abs = jac.entries, jac.entries_abs, jac.diag, jac.diag_abs
        self.off, self.off_sum = jac.off, jac.off_sum

    def terms(self, u: np.ndarray, delta: np.ndarray, rho_r: float, rho_i: float):
        """(g_mid, g_rad, local error d, next float state) for one step."""
        lay = self.lay
        B = u.shape[1]
        ug = np.vstack([np.zeros((1, B)), u])
        dg = np.vstack([np.zeros((1, B)), delta + rho_r])
        E = lay.n_edges
        cur, err, ibar = np.empty((E, B)), np.empty((E, B)), np.empty((E, B))
        g_lo, g_hi = np.empty((E, B)), np.empty((E, B))
        for seg, a, pc, s_q, dq, eps, leaky in self.segs:
            sl = slice(seg.start, seg.stop)
            us, ud, ds, dd = ug[lay.src[sl]], ug[lay.des[sl]], dg[lay.src[sl]], dg[lay.des[sl]]
            z = pc["w_src"] * us
            z += pc["w_des"] * ud
            z += pc["bias"]
            rad = pc["abs_w_src"] * ds
            rad += pc["abs_w_des"] * dd
            dz_p = dq["w_src"] * (np.abs(us) + ds)
            dz_p += dq["w_des"] * (np.abs(ud) + dd)
            dz_p += dq["bias"]
            reach = rad + dz_p
            y = act(a, z)
            if a is Activation.TANH:  # slope 1 - y^2 varies by at most 4/(3 sqrt 3) < 0.7699 per unit of z
                g = 1.0 - y * y
                np.clip(g - TANH_SLOPE_LIPSCHITZ * reach, 0.0, 1.0, out=g_lo[sl])
                np.clip(g + TANH_SLOPE_LIPSCHITZ * reach, 0.0, 1.0, out=g_hi[sl])
            else:
                g_lo[sl], g_hi[sl] = slope_range(a, z, reach)
            hi = g_hi[sl]
            np.multiply(pc["scale"], y, out=cur[sl])
            e_act = eps if leaky is None else eps + leaky * np.maximum(reach - z, 0.0)
            e = s_q * (e_act + hi * dz_p)
            e += dq["scale"] * (np.abs(y) + hi * rad)
            err[sl] = e
            ibar[sl] = np.abs(cur[sl]) + pc["abs_scale"] * hi * rad + e
        fn_err = self.to_both @ err
        ib = self.to_both @ ibar
        local = np.abs(self.k) * fn_err + self.k_err * ib + rho_i
        u_next = u + self.k * (self.kcl @ cur)
        return (g_lo + g_hi) / 2, (g_hi - g_lo) / 2, local, u_next


def propagate(circuit: Circuit, program: Program, x: np.ndarray, method: str | None = None) -> BoundResult:
    """Float Euler along the program's windows and steps, and the error bound at every step."""
    fe = FloatEuler(circuit)
    n = circuit.n_nodes
    method = method or ("zonotope" if n <= DENSE_NODES else "componentwise")
    integ, read = program.integrator, program.read
    rho = _rounding_error(float(read.lsb), read.rounding) if integ.frac_bits > read.frac_bits else 0.0
    rho_i = _rounding_error(float(integ.lsb), integ.rounding)
    feedback = program.read_feedback and rho > 0
    rho_eta = 2 * rho if feedback else rho  # |R - X|: c_{k-1} - c_k with feedback
    u = fe.initial_state(np.asarray(x, dtype=np.float64))
    B = u.shape[1]
    d0 = np.zeros_like(u)
    d0[np.asarray(circuit.inputs) - 1] = rho_i  # loading the inputs rounds them into the integrator
    states, bounds = [u], [d0]
    blocks = [(1, _diag(d0))]  # zonotope: (span, generators (B, N, m))
    pending = None  # feedback: the generators of the newest residue symbol c_k, seen once so far
    eye = np.eye(n)[None]
    rho_diag = _diag(np.full((n, B), rho))
    delta = d0
    for pw in program.windows:
        win = _Window(fe, program, pw, circuit)
        for _ in range(pw.steps):
            g_mid, g_rad, local, u_next = win.terms(u, delta, rho_eta, rho_i)
            if method == "zonotope":
                A = (win.J @ g_mid).T.reshape(B, n, n) * win.k.reshape(1, n, 1)  # A_mid - I
                W = (win.Jabs @ g_rad).T.reshape(B, n, n) * np.abs(win.k).reshape(1, n, 1)
                if feedback:  # (A_mid - I)(c_{k-1} - c_k) is tracked by symbols; only W*eta is boxed
                    d = W.sum(2) * rho_eta + local.T
                else:
                    d = (np.abs(A) + W).sum(2) * rho + local.T
                spill = np.zeros((B, n))
                moved = []
                for span, M in blocks:
                    spill += np.einsum("bij,bj->bi", W, np.abs(M).sum(2))
                    moved.append((span, (eye + A) @ M))
                new = [_diag((d + spill).T)]
                if feedback:
                    if pending is not None:  # c_{k-1} enters a second time, with + sign: complete it
                        spill_p = np.einsum("bij,bj->bi", W, np.abs(pending).sum(2))
                        new[0] = _diag((d + spill + spill_p).T)
                        new.append((eye + A) @ pending + A @ rho_diag)
                    pending = -(A @ rho_diag)
                blocks = moved + [(1, np.concatenate(new, axis=2))]
                while len(blocks) >= 2 and blocks[-1][0] == blocks[-2][0]:
                    (s1, m1), (s2, m2) = blocks[-2], blocks[-1]
                    blocks[-2:] = [(s1 + s2, _diag((np.abs(m1).sum(2) + np.abs(m2).sum(2)).T))]
                delta = sum(np.abs(M).sum(2) for _, M in blocks)
                if pending is not None:
                    delta = delta + np.abs(pending).sum(2)
                delta = delta.T
            else:
                a_mid = win.k * (win.Jdiag @ g_mid)
                a_rad = np.abs(win.k) * (win.Jdiag_abs @ g_rad)
                grow = np.maximum(np.abs(1 + a_mid - a_rad), np.abs(1 + a_mid + a_rad))
                shrink = np.abs(a_mid) + a_rad
                _, c, v, ei = win.off
                contrib = v[:, None] * (g_mid + g_rad)[ei] * (delta[c] + rho_eta)
                off = np.abs(win.k) * (win.off_sum @ contrib)
                delta = grow * delta + shrink * rho_eta + off + local
            u = u_next
            states.append(u)
            bounds.append(delta)
    return BoundResult(np.stack(states), np.stack(bounds), method)


def _diag(d: np.ndarray) -> np.ndarray:
    """(N, B) vector -> (B, N, N) diagonal generator blocks."""
    n, b = d.shape
    out = np.zeros((b, n, n))
    idx = np.arange(n)
    out[:, idx, idx] = d.T
    return out

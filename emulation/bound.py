"""A per-step error bound for the bit-exact model, propagated along the float Euler trajectory.

Let u_k be float Euler (original parameters), X_k the bit-exact integrator
at the same dt, e_k = X_k - u_k, and r_k the read copy (r_k - X_k = eta_k,
|eta_k| <= rho_r). With k_n = dt_w / C_n and its stored value k_n':

    e_{k+1,n} = e_{k,n} + k_n' sum_e +-[i~_e(r) - i_e(u)] + (k_n' - k_n) I_n(u) + q_k

(q_k: the increment's rounding, <= rho_i, half an integrator LSB). With
dz = w_src (r_s - u_s) + w_des (r_d - u_d), dz_p(v) = dw_s v_s + dw_d v_d + db
(the quantised w and bias minus the original ones, signed) and g_u = A'(z(u)),
each edge's difference splits into

    i~(r) - i(u) = s g_u dz                                      first order: exact along u
                 + s' g_u dz_p(u) + (s' - s) A(z(u))             known, signed: the centre
                 + s [A(z(u) + dz) - A(z(u)) - g_u dz]           second order: |.| <= s R2(|dz|)
                 + s'[A~(z'(r)) - A(z'(r))]                      activation error (tanh table per segment)
                 + s'[A(z'(r)) - A(z(r)) - g_u dz_p(r)] + s' g_u dw.(r - u) + (s' - s)[A(z(r)) - A(z(u))]

R2(d) = min(1/2 max|A''| d^2, max|A' - g_u| d) over z(u) +- d (Taylor or mean value, whichever
is tighter per edge); where the slope range's midpoint g_m over z(u) +- d leaves less,
(g_hi - g_lo) d / 2 (relu near its kink, tanh once dz is large), that edge is linearised with
g_m instead. Every term after the second is bounded per edge and step. So

    e_{k+1} = (I + A_k)(e_k + eta_k) - eta_k + c_k + l_k,    A_k = diag(k') J(g_lin(u_k))

with c_k known and |l_k| <= box_k: the error is a centre (propagated exactly) plus a set
around it, and every |dz| an edge can see comes from that set, so the nonlinearity only
enters through R2, quadratic in the bound (not through slope ranges that widen with it):

* dense (N <= DENSE_NODES): a zonotope. Each step's box becomes a generator
  block diag(box_k); every block is mapped by I + A_k exactly (so rotations
  and cancellations in the flow are kept), and blocks merge in a binary-counter
  pattern (O(log K) blocks, each contribution boxed O(log K) times). With the
  noise-shaped read, eta_k = c_{k-1} - c_k and each residue is one symbol met
  twice, so the telescoping is kept; without it, A_k eta_k is a generator block.
* sparse (larger N): componentwise, delta' = |I + A| delta + |A| rho_r + box with
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
from kgen.devices import DEVICE_KINDS, LEAKY_SLOPE, PIECES, Activation

from .floatref import FloatEuler
from .program import OpCode, Program
from kgen.qformat import Rounding

#: Circuits up to this many nodes get the dense (zonotope) propagation.
DENSE_NODES = 32
#: max |tanh''| = max |d/dz (1 - tanh(z)^2)| = 4 / (3 sqrt 3), rounded up
TANH_SLOPE_LIPSCHITZ = 0.7699
#: max |tanh'''| (at z = 0)
TANH_CURVATURE_LIPSCHITZ = 2.0
#: tanh edges also try the slope range's midpoint as the linearisation once some |dz| exceeds this
MIDPOINT_FROM = 0.05


def _rounding_error(lsb: float, rounding: Rounding) -> float:
    return lsb if rounding is Rounding.TRUNCATE else lsb / 2


def quantized_pieces(program: Program, kind_index: int, params: np.ndarray) -> dict[str, np.ndarray | float]:
    """The values the integer program actually uses for each canonical piece of one kind range."""
    from .lower import _const_raw

    kp = program.kinds[kind_index]
    consts = DEVICE_KINDS[kp.kind].constant_pieces
    out: dict[str, np.ndarray | float] = {}
    for piece in PIECES:
        if piece in kp.params:
            row = kp.params.index(piece)
            out[piece] = np.ldexp(params[row].astype(np.float64), -kp.param_formats[row].frac_bits)
        elif piece == "w_des" and DEVICE_KINDS[kp.kind].is_difference:
            out[piece] = -out["w_src"]
        else:
            c = consts[piece]
            if c in (0.0, 1.0, -1.0):
                out[piece] = c
            else:
                raw, frac = _const_raw(c)
                out[piece] = np.ldexp(float(raw), -frac)
    return out


def activation_error(program: Program, kind_index: int) -> tuple[float, float | None]:
    """(fixed error of the integer activation, |leaky slope error| or None). For tanh: the largest
    |rounded - exact| of the table's argument (half-up to arg_frac bits; 0 when it has no more
    bits); the table's own error is looked up per segment (`_TanhErrors`)."""
    kp = program.kinds[kind_index]
    fmts = kp.formats(program.read)
    for op in kp.ops:
        if op.code is OpCode.TANH:
            spec = program.tanh.spec
            return (2.0 ** -(spec.arg_frac + 1) if fmts[op.args[0]].frac_bits > spec.arg_frac else 0.0), None
        if op.code is OpCode.LEAKY:
            return 2.0 ** -(op.fmt.frac_bits + 1), abs(op.const * 2.0 ** -op.const_frac - LEAKY_SLOPE)
    return 0.0, None


class _TanhErrors:
    """The table's measured error per segment, as max over [x - r, x + r] in O(1): a query that
    spans at most two segments reads the pair, a wider one the global maximum."""

    def __init__(self, table):
        seg = table.segment_error
        self.pair = np.maximum(seg, np.append(seg[1:], seg[-1]))
        self.max = float(seg.max())
        self.n = table.spec.segments
        self.inv_h = table.spec.segments / table.spec.x_max

    def over(self, ax: np.ndarray, r: np.ndarray) -> np.ndarray:
        lo = (np.maximum(ax - r, 0.0) * self.inv_h).astype(np.int64)
        hi = ((ax + r) * self.inv_h).astype(np.int64)
        np.minimum(lo, self.n - 1, out=lo)
        np.minimum(hi, self.n - 1, out=hi)
        return np.where(hi - lo <= 1, self.pair[lo], self.max)


@dataclass(frozen=True, eq=False)
class BoundResult:
    float_states: np.ndarray  # (S, N, B) float Euler with the original parameters
    bound: np.ndarray  # (S, N, B) bound on |X_k - u_k|
    method: str  # "zonotope" or "componentwise"


def _edge_map(n: int, lay, values_src: np.ndarray, values_des: np.ndarray) -> sp.csr_matrix:
    """(E, N) sparse: row e has values_src[e] at column src_e and values_des[e] at des_e (ground dropped)."""
    e = np.arange(lay.n_edges)
    rows, cols, vals = [], [], []
    for node, v in ((lay.src, values_src), (lay.des, values_des)):
        keep = node > 0
        rows.append(e[keep])
        cols.append(node[keep] - 1)
        vals.append(v[keep])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(lay.n_edges, n))


class _Window:
    """Per-window constants: original and quantised pieces as (E, 1) columns and (E, N) maps."""

    def __init__(self, fe: FloatEuler, program: Program, pw, circuit: Circuit):
        n = circuit.n_nodes
        self.pw = pw
        self.lay = lay = fe.windows[pw.window].edges
        self.kcl = fe.windows[pw.window].kcl
        self.kcl_abs = abs(self.kcl)
        self.k = (pw.dt / circuit.capacitance).reshape(-1, 1)
        self.kq = np.ldexp(pw.coef.astype(np.float64), -pw.coef_fmt.frac_bits).reshape(-1, 1)
        E = lay.n_edges
        p = {name: np.empty(E) for name in PIECES}
        q = {name: np.empty(E) for name in PIECES}
        self.segs = []
        for (ki, start, stop), params, seg in zip(pw.kind_ranges, pw.params, lay.segments):
            assert seg.kind == program.kinds[ki].kind and (seg.start, seg.stop) == (start, stop)
            qp = quantized_pieces(program, ki, params)
            for name in PIECES:
                p[name][start:stop] = seg.pieces[name]
                q[name][start:stop] = qp[name]
            eps, leaky = activation_error(program, ki)
            self.segs.append((slice(start, stop), DEVICE_KINDS[seg.kind].activation, eps, leaky))
        d = {name: q[name] - p[name] for name in PIECES}
        self.wmap = _edge_map(n, lay, p["w_src"], p["w_des"])
        self.wmap_abs = _edge_map(n, lay, np.abs(p["w_src"]), np.abs(p["w_des"]))
        self.dwmap = _edge_map(n, lay, d["w_src"], d["w_des"])
        self.dwmap_abs = _edge_map(n, lay, np.abs(d["w_src"]), np.abs(d["w_des"]))
        col = lambda v: v.reshape(-1, 1)  # noqa: E731
        self.bias, self.dbias = col(p["bias"]), col(d["bias"])
        self.scale, self.abs_scale, self.qscale = col(p["scale"]), col(np.abs(p["scale"])), col(q["scale"])
        self.dscale = col(d["scale"]) if np.any(d["scale"]) else None
        self.abs_qscale = np.abs(self.qscale)
        self.tanh = _TanhErrors(program.tanh) if program.tanh is not None else None
        jac = fe.windows[pw.window].jac
        self.J, self.Jdiag = jac.entries, jac.diag
        self.off, self.off_sum = jac.off, jac.off_sum

    def terms(self, u: np.ndarray, center: np.ndarray, spread: np.ndarray):
        """(slopes the step is linearised with (E, B), centre increment c (N, B), local box (N, B),
        next float state) for one step.

        center: the known part of e_k; spread (N, B): |r_k - u_k - center| <= spread (the set
        around the centre plus the read error)."""
        hull = np.abs(center) + spread  # |r - u|
        z = self.wmap @ u + self.bias
        dz = np.abs(self.wmap @ center) + self.wmap_abs @ spread  # >= |w . (r - u)|
        dzp_u = self.dwmap @ u + self.dbias  # z'(u) - z(u), signed
        dwr = self.dwmap_abs @ hull  # >= |dw . (r - u)|
        dzp = np.abs(dzp_u) + dwr  # >= |z'(r) - z(r)|
        reach = dz + dzp  # |z'(r) - z(u)|, |z(r) - z(u)| <= reach
        E, B = z.shape
        y, g, lin, gp, g_hi, e_act, r2 = (np.empty((E, B)) for _ in range(7))
        for sl, a, eps, leaky in self.segs:
            zs, dzs, rs = z[sl], dz[sl], reach[sl]
            if a is Activation.TANH:
                ys = np.tanh(zs)
                gs = 1.0 - ys * ys
                gmax = np.maximum(gs, 1.0 - gs)  # |A'(xi) - g_u| <= this: A' is in [0, 1]
                np.minimum(TANH_SLOPE_LIPSCHITZ * rs, gmax, out=gp[sl])
                np.minimum(gs + TANH_SLOPE_LIPSCHITZ * rs, 1.0, out=g_hi[sl])
                # table error over the segments the rounded argument can reach, plus the rounding itself
                e_act[sl] = self.tanh.over(np.abs(zs), rs + eps)
                e_act[sl] += np.minimum(g_hi[sl] + TANH_SLOPE_LIPSCHITZ * eps, 1.0) * eps
                curv = np.minimum(TANH_SLOPE_LIPSCHITZ, 2.0 * np.abs(ys) * gs + TANH_CURVATURE_LIPSCHITZ * dzs)
                r2[sl] = np.minimum(0.5 * curv * dzs, np.minimum(TANH_SLOPE_LIPSCHITZ * dzs, gmax)) * dzs
                wide = dzs.max() > MIDPOINT_FROM  # the midpoint slope can only win once dz is large
            else:
                ys, gs = a.numpy(zs), a.numpy_slope(zs)
                lo, g_hi[sl] = a.slope_range(zs, rs)
                gp[sl] = np.maximum(g_hi[sl] - gs, gs - lo)
                e_act[sl] = eps if leaky is None else eps + leaky * np.maximum(rs - zs, 0.0)
                kink = 0.0 if a is Activation.IDENTITY else (1.0 if a is Activation.RELU else 1.0 - LEAKY_SLOPE)
                r2[sl] = kink * np.maximum(dzs - np.abs(zs), 0.0)  # only where dz can cross the kink
                wide = a is not Activation.IDENTITY
            y[sl], g[sl], lin[sl] = ys, gs, gs
            if wide:  # linearise with the slope range's midpoint where that encloses the rest more tightly
                lo, hi = a.slope_range(zs, dzs)
                r_mid = 0.5 * (hi - lo) * dzs
                use = r_mid < r2[sl]
                lin[sl] = np.where(use, 0.5 * (hi + lo), gs)
                r2[sl] = np.where(use, r_mid, r2[sl])
        box = self.abs_qscale * (e_act + gp * dzp + g * dwr) + self.abs_scale * r2
        det = self.qscale * g * dzp_u
        if self.dscale is not None:
            box += np.abs(self.dscale) * g_hi * dz
            det += self.dscale * y
        cur = self.scale * y
        I_u = self.kcl @ cur
        c = self.kq * (self.kcl @ det) + (self.kq - self.k) * I_u
        box_n = np.abs(self.kq) * (self.kcl_abs @ box)
        return lin, c, box_n, u + self.k * I_u

    def apply(self, g: np.ndarray, v: np.ndarray) -> np.ndarray:
        """A v = k' J(g) v, edge by edge (N, B)."""
        return self.kq * (self.kcl @ (self.scale * g * (self.wmap @ v)))


#: Inputs per pass: every input is independent, and (edges x batch) arrays this wide stay in cache.
BATCH = 128


def propagate(circuit: Circuit, program: Program, x: np.ndarray, method: str | None = None) -> BoundResult:
    """Float Euler along the program's windows and steps, and the error bound at every step."""
    x = np.asarray(x, dtype=np.float64)
    method = method or ("zonotope" if circuit.n_nodes <= DENSE_NODES else "componentwise")
    fe = FloatEuler(circuit)
    windows = [_Window(fe, program, pw, circuit) for pw in program.windows]
    parts = [_propagate(circuit, program, fe, windows, x[i:i + BATCH], method) for i in range(0, len(x), BATCH)]
    if len(parts) == 1:
        return BoundResult(*parts[0], method)
    return BoundResult(np.concatenate([p[0] for p in parts], axis=2), np.concatenate([p[1] for p in parts], axis=2),
                       method)


def _propagate(circuit: Circuit, program: Program, fe: FloatEuler, windows, x: np.ndarray, method: str):
    n = circuit.n_nodes
    integ, read = program.integrator, program.read
    rho = _rounding_error(float(read.lsb), read.rounding) if integ.frac_bits > read.frac_bits else 0.0
    rho_i = _rounding_error(float(integ.lsb), integ.rounding)
    feedback = program.read_feedback and rho > 0
    rho_eta = 2 * rho if feedback else rho  # |R - X|: c_{k-1} - c_k with feedback
    u = fe.initial_state(x)
    B = u.shape[1]
    d0 = np.zeros_like(u)
    d0[np.asarray(circuit.inputs) - 1] = rho_i  # loading the inputs rounds them into the integrator
    states, bounds = [u], [d0]
    center = np.zeros_like(u)  # the known part of e_k
    blocks = [(1, _diag(d0))]  # zonotope around the centre: (span, generators (B, N, m))
    pending = None  # feedback: the generators of the newest residue symbol c_k, seen once so far
    rho_diag = _diag(np.full((n, B), rho))
    delta = d0  # |e_k - center| <= delta
    for pw, win in zip(program.windows, windows):
        for _ in range(pw.steps):
            g, c, box, u_next = win.terms(u, center, delta + rho_eta)
            if method == "zonotope":
                A = (win.J @ g).T.reshape(B, n, n) * win.kq.reshape(1, n, 1)
                center = center + np.einsum("bij,jb->ib", A, center) + c
                moved = [(span, M + A @ M) for span, M in blocks]
                new = [_diag(box)]
                if feedback:  # A (c_{k-1} - c_k) is tracked by symbols
                    if pending is not None:  # c_{k-1} enters a second time, with + sign: complete it
                        new.append(pending + A @ pending + A @ rho_diag)
                    pending = -(A @ rho_diag)
                elif rho > 0:
                    new.append(A @ rho_diag)
                blocks = moved + [(1, np.concatenate(new, axis=2))]
                while len(blocks) >= 2 and blocks[-1][0] == blocks[-2][0]:
                    (s1, m1), (s2, m2) = blocks[-2], blocks[-1]
                    blocks[-2:] = [(s1 + s2, _diag((np.abs(m1).sum(2) + np.abs(m2).sum(2)).T))]
                delta = sum(np.abs(M).sum(2) for _, M in blocks)
                if pending is not None:
                    delta = delta + np.abs(pending).sum(2)
                delta = delta.T
            else:
                a_diag = win.kq * (win.Jdiag @ g)
                center = center + win.apply(g, center) + c
                _, col, v, ei = win.off
                off = np.abs(win.kq) * (win.off_sum @ (v[:, None] * g[ei] * (delta[col] + rho_eta)))
                delta = np.abs(1 + a_diag) * delta + np.abs(a_diag) * rho_eta + off + box
            u = u_next
            states.append(u)
            bounds.append(np.abs(center) + delta)
    return np.stack(states), np.stack(bounds)


def _diag(d: np.ndarray) -> np.ndarray:
    """(N, B) vector -> (B, N, N) diagonal generator blocks."""
    n, b = d.shape
    out = np.zeros((b, n, n))
    idx = np.arange(n)
    out[:, idx, idx] = d.T
    return out

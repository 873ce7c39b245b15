"""Float64 forward Euler in NumPy on the canonical edge layout (the twin's reference).

The same equation as kgen.model (tested against its torchdiffeq Euler), but
with a step count per window, time reversal, every step recorded, and the
per-edge quantities (z, activation slope) the error bound needs, indexed like
the lowered program's edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kgen.circuit import Circuit
from kgen.devices import DEVICE_KINDS

from kgen.layout import WindowEdges, incidence, initial_state, window_edges


@dataclass(frozen=True, eq=False)
class JacobianMap:
    """d(KCL sum)/dv as sparse maps from per-edge slopes g (E, B) to entries (before 1/C).

    `entries @ g` gives the (N*N, B) flattened Jacobian of the current sums
    (row n*N + m = d I_n / d v_m); ground rows and columns drop out.
    """

    entries: object  # csr (N*N, E)
    entries_abs: object
    diag: object  # csr (N, E): the diagonal entries only
    diag_abs: object
    off: tuple  # (row node, column node, |coefficient|, edge) of every off-diagonal entry
    off_sum: object  # csr (N, n_off): sums off-diagonal terms into their row


def jacobian_map(n: int, lay: WindowEdges) -> JacobianMap:
    e = np.arange(lay.n_edges)
    cs = np.zeros(lay.n_edges)
    cd = np.zeros(lay.n_edges)
    for seg in lay.segments:
        sl = slice(seg.start, seg.stop)
        cs[sl] = seg.pieces["scale"] * seg.pieces["w_src"]
        cd[sl] = seg.pieces["scale"] * seg.pieces["w_des"]
    # row des gets +s*w_src*g (col src), +s*w_des*g (col des); row src the negatives
    rows, vals, eidx = [], [], []
    for r_node, sign in ((lay.des, 1.0), (lay.src, -1.0)):
        for c_node, coef in ((lay.src, cs), (lay.des, cd)):
            keep = (r_node > 0) & (c_node > 0)
            rows.append((r_node[keep] - 1) * n + (c_node[keep] - 1))
            vals.append(sign * coef[keep])
            eidx.append(e[keep])
    rows, vals, eidx = np.concatenate(rows), np.concatenate(vals), np.concatenate(eidx)
    shape = (n * n, lay.n_edges)
    diag = (rows // n) == (rows % n)
    n_off = int((~diag).sum())
    return JacobianMap(
        sp.csr_matrix((vals, (rows, eidx)), shape=shape), sp.csr_matrix((np.abs(vals), (rows, eidx)), shape=shape),
        sp.csr_matrix((vals[diag], (rows[diag] // n, eidx[diag])), shape=(n, lay.n_edges)),
        sp.csr_matrix((np.abs(vals[diag]), (rows[diag] // n, eidx[diag])), shape=(n, lay.n_edges)),
        (rows[~diag] // n, rows[~diag] % n, np.abs(vals[~diag]), eidx[~diag]),
        sp.csr_matrix((np.ones(n_off), (rows[~diag] // n, np.arange(n_off))), shape=(n, n_off)))


@dataclass(frozen=True, eq=False)
class FloatWindow:
    edges: WindowEdges
    kcl: object  # csr (N, E) float64
    inv_c: np.ndarray  # (N, 1)
    jac: JacobianMap


class FloatEuler:
    def __init__(self, circuit: Circuit):
        self.circuit = circuit
        inv_c = (1.0 / circuit.capacitance).reshape(-1, 1)
        self.windows = []
        for w in range(len(circuit.windows)):
            lay = window_edges(circuit, w)
            self.windows.append(FloatWindow(lay, incidence(circuit.n_nodes, lay.src, lay.des, np.float64), inv_c,
                                            jacobian_map(circuit.n_nodes, lay)))

    def pre_activation(self, w: int, vg: np.ndarray):
        """Yield (segment, z (n, B)) for every kind segment; vg is (N + 1, B) with the ground row."""
        lay = self.windows[w].edges
        for seg in lay.segments:
            sl = slice(seg.start, seg.stop)
            vs, vd = vg[lay.src[sl]], vg[lay.des[sl]]
            pc = seg.pieces
            z = pc["w_src"][:, None] * vs + pc["w_des"][:, None] * vd + pc["bias"][:, None]
            yield seg, z

    def currents(self, w: int, vg: np.ndarray) -> np.ndarray:
        out = np.empty((self.windows[w].edges.n_edges, vg.shape[1]))
        for seg, z in self.pre_activation(w, vg):
            out[seg.start:seg.stop] = seg.pieces["scale"][:, None] * DEVICE_KINDS[seg.kind].activation.numpy(z)
        return out

    def rhs(self, w: int, v: np.ndarray) -> np.ndarray:
        fw = self.windows[w]
        vg = np.vstack([np.zeros((1, v.shape[1])), v])
        return (fw.kcl @ self.currents(w, vg)) * fw.inv_c

    def slopes(self, w: int, v: np.ndarray) -> np.ndarray:
        """act'(z) per edge (E, B) at state v (N, B)."""
        vg = np.vstack([np.zeros((1, v.shape[1])), v])
        out = np.empty((self.windows[w].edges.n_edges, v.shape[1]))
        for seg, z in self.pre_activation(w, vg):
            out[seg.start:seg.stop] = DEVICE_KINDS[seg.kind].activation.numpy_slope(z)
        return out

    def spectral_radius(self, w: int, v: np.ndarray, dense_max: int = 32) -> np.ndarray:
        """Per sample, |lambda|_max of the Jacobian of dv/dt (exact eigenvalues for small N,
        else the Gershgorin bound max_n sum_m |J_nm|)."""
        fw = self.windows[w]
        n, b = v.shape
        g = self.slopes(w, v)
        if n <= dense_max:
            J = (fw.jac.entries @ g).T.reshape(b, n, n) * fw.inv_c.reshape(1, n, 1)
            return np.abs(np.linalg.eigvals(J)).max(1)
        rows = (fw.jac.diag_abs @ g) + fw.jac.off_sum @ (fw.jac.off[2][:, None] * g[fw.jac.off[3]])
        return (rows * fw.inv_c).max(0)

    def initial_state(self, x: np.ndarray) -> np.ndarray:
        """Data (B, n_data) -> the node-major state (N, B) at t = 0."""
        return initial_state(self.circuit, np.asarray(x, dtype=np.float64)).T.copy()

    def run(self, x: np.ndarray, steps: tuple[int, ...], reverse: bool = False, record: bool = False,
            marks=None, on_step=None):
        """Euler with steps[w] steps in window w.

        Returns (final (N, B), states): every step's state (S, N, B) when record,
        only the step indices in `marks` when given, else None. on_step(k, w, v)
        sees every state (k = 0 is the start).
        """
        c = self.circuit
        v = self.initial_state(x)
        order = range(len(c.windows) - 1, -1, -1) if reverse else range(len(c.windows))
        keep = None if marks is None and not record else (set(int(m) for m in marks) if marks is not None else None)
        states = []
        k = 0

        def seen(w):
            if on_step is not None:
                on_step(k, w, v)
            if record or (keep is not None and k in keep):
                states.append(v)

        seen(next(iter(order)))
        for w in order:
            win = c.windows[w]
            dt = (win.t_end - win.t_start) / steps[w]
            if reverse:
                dt = -dt
            for _ in range(steps[w]):
                v = v + dt * self.rhs(w, v)
                k += 1
                seen(w)
        return v, (np.stack(states) if states else None)

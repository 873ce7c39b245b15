"""The PyTorch reference model of a Circuit (the float view).

State is node-major, (N, B): gathers are `index_select` and the KCL sums
`index_add_` on dimension 0, which keeps every row contiguous (2-4x faster than
the original's batch-major gather / scatter_add). Each window is its own
solve; the state carries over. Edges of a window are grouped by device kind
into contiguous segments, each evaluated in the canonical form of
kgen.devices, so the closed-form Jacobian trace for the CNF costs O(E).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn

from .circuit import Circuit, Window
from .devices import DEVICE_KINDS, piece_functions
from .layout import incidence_entries, initial_state, window_edges
from .solver import Solver


#: (N+1) x E_k entries up to which a segment uses dense matrices instead of gathers and CSR.
DENSE_LIMIT = 1 << 22


class _Segment(nn.Module):
    """The edges of one device kind inside one window."""

    def __init__(self, kind_name: str, src: np.ndarray, des: np.ndarray):
        super().__init__()
        self.kind_name = kind_name
        self.act = DEVICE_KINDS[kind_name].activation
        self.difference = DEVICE_KINDS[kind_name].is_difference
        self.register_buffer("src", torch.as_tensor(src, dtype=torch.long), persistent=False)
        self.register_buffer("des", torch.as_tensor(des, dtype=torch.long), persistent=False)
        self.incidence = None  # built on first use, in the state's dtype

    def kcl_matrix(self, n_rows: int, dtype: torch.dtype) -> torch.Tensor:
        """Signed incidence (N+1, E_k): +1 at (des, e), -1 at (src, e).

        One matmul does both KCL sums. Small circuits keep it dense (a BLAS
        call: ~25x faster than index_add_ on the 2-D flows); large ones as CSR
        (~2x faster than two index_add_ calls on mnist, where short node-major
        rows make index_add_'s per-row overhead dominate).
        """
        if self.incidence is None or self.incidence.dtype != dtype:
            e = self.src.numel()
            rows, cols, vals = incidence_entries(self.src.cpu().numpy(), self.des.cpu().numpy(), ground_row=True)
            coo = torch.sparse_coo_tensor(torch.as_tensor(np.stack([rows, cols])), torch.as_tensor(vals, dtype=dtype),
                                          (n_rows, e), check_invariants=False).coalesce()
            if self.is_dense(n_rows):
                self.incidence = coo.to_dense()
            else:
                with warnings.catch_warnings():  # "sparse CSR support is in beta"
                    warnings.simplefilter("ignore", UserWarning)
                    self.incidence = coo.to_sparse_csr()
        return self.incidence

    def is_dense(self, n_rows: int) -> bool:
        return n_rows * self.src.numel() <= DENSE_LIMIT

    def arguments_dense(self, vg: torch.Tensor, ws, wd, bias) -> torch.Tensor:
        """z = W vg + bias with W (E_k, N+1) holding w_src at src and w_des at des: one GEMM
        replaces two gathers and the multiply-adds (small circuits only)."""
        e = self.src.numel()
        rows, ones = torch.arange(e), torch.ones(e, dtype=vg.dtype)
        w = torch.zeros(e, vg.shape[0], dtype=vg.dtype)
        w = w.index_put((rows, self.src), ones if ws is None else ws.reshape(-1))
        w = w.index_put((rows, self.des), ones if wd is None else wd.reshape(-1))
        return torch.addmm(bias.expand(e, 1), w, vg)

    def pieces(self, params: torch.Tensor):
        """(scale, w_src, w_des, bias) as (E_k, 1) tensors; None for a factor that is the constant 1."""
        out = []
        for i, fn in enumerate(piece_functions(self.kind_name)):
            val = fn(*params)
            if isinstance(val, torch.Tensor):
                out.append(val.reshape(-1, 1))
            elif val == 1 and i < 3:  # a factor of 1 is skipped; the bias is always a tensor
                out.append(None)
            else:
                out.append(torch.full((params.shape[1], 1), float(val), dtype=params.dtype, device=params.device))
        return out


class WindowField(nn.Module):
    """dv/dt = C^-1 (sum of currents into each node) for one window; also its Jacobian trace."""

    def __init__(self, circuit: Circuit, w: int, dtype: torch.dtype, trainable: bool = False):
        super().__init__()
        win: Window = circuit.windows[w]
        self.n_nodes = circuit.n_nodes
        lay = window_edges(circuit, w)  # the canonical order: contiguous segments per kind
        order = lay.columns
        self.register_buffer("order", torch.as_tensor(order, dtype=torch.long), persistent=False)
        self.segments = nn.ModuleList()
        self.bounds = []
        for seg in lay.segments:
            sl = slice(seg.start, seg.stop)
            self.segments.append(_Segment(seg.kind, lay.src[sl], lay.des[sl]))
            self.bounds.append((seg.start, seg.stop, DEVICE_KINDS[seg.kind].n_rows))
        params = torch.as_tensor(win.params[:, order], dtype=dtype)
        if trainable:
            self.params = nn.Parameter(params)
        else:
            self.register_buffer("params", params, persistent=False)
        inv_c = 1.0 / circuit.capacitance
        self.unit_c = bool(np.all(inv_c == 1.0))
        self.register_buffer("inv_c", torch.as_tensor(inv_c, dtype=dtype).reshape(-1, 1), persistent=False)
        self.t_start, self.t_end = win.t_start, win.t_end
        self.nfe = 0

    def window_params(self) -> np.ndarray:
        """The current parameters in the circuit's edge order (undoes the kind grouping)."""
        out = np.empty(tuple(self.params.shape))
        out[:, self.order.cpu().numpy()] = self.params.detach().cpu().double().numpy()
        return out

    def _segment_params(self):
        for seg, (a, b, rows) in zip(self.segments, self.bounds):
            yield seg, seg.pieces(self.params[:rows, a:b])

    @staticmethod
    def _arguments_gathered(seg, vg, ws, wd, bias, inplace: bool) -> torch.Tensor:
        """z = w_src v_src + w_des v_des + bias from two row gathers (large circuits)."""
        vs, vd = vg.index_select(0, seg.src), vg.index_select(0, seg.des)
        if seg.difference:
            z = vs.sub_(vd) if inplace else vs - vd
            if ws is not None:
                z = z.mul_(ws) if inplace else z * ws
        else:
            z = vs if ws is None else (vs.mul_(ws) if inplace else vs * ws)
            z = z.add_(vd if wd is None else vd.mul_(wd)) if inplace else z + (vd if wd is None else wd * vd)
        return z.add_(bias) if inplace else z + bias

    def _currents(self, vg, with_slope: bool, inv_cg=None):
        """Yield (segment, current (E_k, B), trace contribution (1, B) or None)."""
        # Without autograd the elementwise chain runs in place on the gathered copy.
        inplace = not torch.is_grad_enabled()
        for seg, (scale, ws, wd, bias) in self._segment_params():
            if seg.is_dense(vg.shape[0]):
                z = seg.arguments_dense(vg, ws, wd, bias)
            else:
                z = self._arguments_gathered(seg, vg, ws, wd, bias, inplace)
            tr = None
            if with_slope:
                y, dy = seg.act.torch_with_slope(z)
                # d f_des / d v_des = +di/dv_des / C_des, d f_src / d v_src = -di/dv_src / C_src
                one = torch.ones_like(dy[:, :1])
                coef = (one if wd is None else wd) * inv_cg.index_select(0, seg.des) \
                    - (one if ws is None else ws) * inv_cg.index_select(0, seg.src)
                if scale is not None:
                    coef = coef * scale
                tr = (coef * dy).sum(0, keepdim=True)
            elif inplace:
                y = seg.act.torch_(z)
            else:
                y = seg.act.torch(z)
            cur = y if scale is None else (y.mul_(scale) if inplace and not with_slope else scale * y)
            yield seg, cur, tr

    def _kcl(self, v, with_trace: bool):
        zero = torch.zeros_like(v[:1])
        vg = torch.cat([zero, v], 0)
        inv_cg = None
        if with_trace:
            inv_cg = torch.cat([torch.zeros_like(self.inv_c[:1]), self.inv_c], 0)  # ground has no equation
        trace = torch.zeros_like(v[:1]) if with_trace else None
        out = None
        for seg, cur, tr in self._currents(vg, with_trace, inv_cg):
            part = seg.kcl_matrix(vg.shape[0], cur.dtype) @ cur
            out = part if out is None else out + part
            if with_trace:
                trace = trace + tr
        dv = out[1:] if self.unit_c else out[1:] * self.inv_c
        return dv, trace

    def forward(self, t, v):
        self.nfe += 1
        return self._kcl(v, False)[0]

    def with_trace(self, v):
        """(dv/dt, trace of d(dv/dt)/dv) with the trace in closed form, shape (1, B)."""
        return self._kcl(v, True)


class _Augmented(nn.Module):
    """The CNF system (v, logp): d logp/dt = -trace(J)."""

    def __init__(self, field: WindowField):
        super().__init__()
        self.field = field

    def forward(self, t, state):
        v, _ = state
        self.field.nfe += 1
        dv, trace = self.field.with_trace(v)
        return dv, -trace.reshape(-1)


def odeint(fn, y0, t, opts: Solver, window: int = 0):
    """torchdiffeq over the times t; fixed-step methods take exactly the window's step count."""
    import torchdiffeq

    solver = torchdiffeq.odeint_adjoint if opts.adjoint else torchdiffeq.odeint
    options = {}
    if opts.fixed_step:
        n = opts.steps_in(window)
        if n:
            # an exact grid of n steps between the window's ends (a step_size would
            # leave a short last step when it does not divide the window)
            options["grid_constructor"] = lambda f, y, tt: torch.linspace(float(tt[0]), float(tt[-1]), n + 1,
                                                                          dtype=tt.dtype)
        elif opts.step_size:
            options["step_size"] = opts.step_size
    try:
        return solver(fn, y0, t, rtol=opts.rtol, atol=opts.atol, method=opts.method, options=options or None)
    except AssertionError as exc:  # torchdiffeq's adaptive step control asserts on a step that underflowed
        if "underflow in dt" not in str(exc):
            raise
        from .errors import InputError, expected_found

        raise InputError(expected_found(f"the {opts.method} solve of window {window}", "a state the solver can follow",
                                        "its step size underflowing: the node voltages grow without bound (inputs "
                                        "far outside the model's range?)")) from None


class KirchhoffNet(nn.Module):
    """A Circuit as a torch module: one WindowField per window."""

    def __init__(self, circuit: Circuit, dtype: torch.dtype = torch.float64, trainable: bool = False):
        super().__init__()
        self.circuit = circuit
        self.dtype = dtype
        self.fields = nn.ModuleList(WindowField(circuit, w, dtype, trainable) for w in range(len(circuit.windows)))
        self.register_buffer("output_idx", torch.as_tensor(np.asarray(circuit.outputs) - 1), persistent=False)

    @property
    def nfe(self) -> int:
        return sum(f.nfe for f in self.fields)

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """Data (B, n_data) -> node-major state (N, B) by the circuit's fill rule (kgen.layout)."""
        return initial_state(self.circuit, torch.as_tensor(x).to(self.dtype)).T

    def readout(self, v: torch.Tensor) -> torch.Tensor:
        return v.index_select(0, self.output_idx).T

    def _windows(self, reverse: bool):
        idx = range(len(self.fields))
        return reversed(idx) if reverse else idx

    def _span(self, w: int, reverse: bool) -> torch.Tensor:
        f = self.fields[w]
        t = [f.t_end, f.t_start] if reverse else [f.t_start, f.t_end]
        return torch.tensor(t, dtype=self.dtype)

    def solve(self, v: torch.Tensor, opts: Solver, reverse: bool = False, record: bool = False):
        """Integrate the node state through every window (backwards in time if reverse).

        Returns the final state and, if record, the list of (time, state) at
        every window boundary including the start.
        """
        marks = [(self.fields[-1].t_end if reverse else self.fields[0].t_start, v)] if record else None
        for w in self._windows(reverse):
            v = odeint(self.fields[w], v, self._span(w, reverse), opts, w)[-1]
            if record:
                marks.append((float(self._span(w, reverse)[-1]), v))
        return v, marks

    def solve_dense(self, v: torch.Tensor, opts: Solver, points_per_window: int):
        """States at `points_per_window` evenly spaced times inside every window: (times, states (S, N, B))."""
        times, states = [], []
        for w in range(len(self.fields)):
            f = self.fields[w]
            t = torch.linspace(f.t_start, f.t_end, points_per_window + 1, dtype=self.dtype)
            out = odeint(f, v, t, opts, w)
            first = 0 if w == 0 else 1
            times.append(t[first:])
            states.append(out[first:])
            v = out[-1]
        return torch.cat(times), torch.cat(states)

    def solve_with_logp(self, v: torch.Tensor, logp: torch.Tensor, opts: Solver, reverse: bool):
        """The augmented CNF solve: returns (state, logp + integral of -trace along the path)."""
        for w in self._windows(reverse):
            v, logp = (s[-1] for s in odeint(_Augmented(self.fields[w]), (v, logp), self._span(w, reverse), opts, w))
        return v, logp

    def forward(self, x: torch.Tensor, opts: Solver) -> torch.Tensor:
        v, _ = self.solve(self.initial_state(x), opts)
        return self.readout(v)

    def to_circuit(self) -> Circuit:
        """The circuit with this module's current parameters (e.g. after training)."""
        from dataclasses import replace

        windows = tuple(Window(w.t_start, w.t_end, w.edges, f.window_params())
                        for w, f in zip(self.circuit.windows, self.fields))
        return replace(self.circuit, windows=windows)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) per column of a node-major (D, B) tensor."""
    d = z.shape[0]
    return -0.5 * (z * z).sum(0) - 0.5 * d * math.log(2 * math.pi)

"""UpdateUnit: the reduction over lanes and the Euler update of one node per clock.

For a node group issued in cycle c (every accumulator bank, the integrator
and the coefficient ROM read address j in that cycle):

    c + 1        per lane: des - src partial sums (the reads arrive)        tree level 1
    c + 1 + k    pairwise sums, registered                                  levels 2 .. T
    c + 1 + T    acc_n (wrap-around, the accumulator width)
    c + 2 + T    acc_n * coef_n (registered)
    c + 3 + T    inc_n = round(acc_n coef_n, update_shift_w) (registered)
    c + 4 + T    X_n = fit(X_n + inc_n) (registered)
    c + 5 + T    t = X_n + c_n (registered; t = X_n without read feedback)
    c + 6 + T    R_n = rescale(t) (registered)
    c + 7 + T    c_n = fit(t - (R_n << (Fi - Fr))): X_n, R_n and c_n are written this cycle

exactly the integer steps of the bit-exact model (emulation.interp). T =
ceil(log2(2 L)) levels; `latency` = UPDATE_STAGES + T = 7 + T cycles from issue to write
(`read_state` below is the same arithmetic in one cycle, for the core's LOAD).
The stages split what place and route showed critical (iCE40UP5K: the multiply, the
rounding add, the saturating add and the read copy's add, rounding and residue were one 79 ns path). With
the program's noise-shaped read (`read_feedback`) each node also keeps its
read residue c_n, read with X_n and written with it.
"""

from __future__ import annotations

from amaranth.hdl import Array, Elaboratable, Module, Signal, signed, unsigned

from kgen.emulation.program import Program

from .fixed import fit, hw_shape, hw_width, rescale, shift_round
from .plan import UPDATE_STAGES, tree_depth


def read_state(program: Program, x, residue=None):
    """Program.read_state in hardware: (R, new residue or None, saturated) from integrator value x.

    Without read feedback R = rescale(x); with it t = x + c, R = rescale(t) and the new residue
    is fit(t - (R << (Fi - Fr))) in the program's residue format.
    """
    fi, fr = program.integrator.frac_bits, program.read.frac_bits
    if not program.read_feedback:
        r, sat = rescale(x, fi, program.read)
        return r, None, sat
    t = x + residue if residue is not None else x
    r, sat = rescale(t, fi, program.read)
    c, _ = fit(t - (r << (fi - fr)), program.residue)
    return r, c, sat


class UpdateUnit(Elaboratable):
    def __init__(self, program: Program, lanes: int, addr_bits: int, coef_width: int, name: str = "upd"):
        self.program = program
        self.lanes = int(lanes)
        self.name = name
        acc_w = hw_width(program.acc)
        n_win = len(program.windows)
        self.win_bits = max(1, (n_win - 1).bit_length())
        # issue (cycle c)
        self.issue = Signal(name=f"{name}_issue")
        self.addr = Signal(addr_bits, name=f"{name}_addr")
        self.window = Signal(self.win_bits, name=f"{name}_window")
        # reads (cycle c + 1)
        self.des = [Signal(unsigned(acc_w), name=f"{name}_des{k}") for k in range(lanes)]
        self.src = [Signal(unsigned(acc_w), name=f"{name}_src{k}") for k in range(lanes)]
        self.x_in = Signal(hw_shape(program.integrator), name=f"{name}_x_in")
        self.feedback = bool(program.read_feedback)
        if self.feedback:
            self.c_in = Signal(hw_shape(program.residue), name=f"{name}_c_in")
            self.c_out = Signal(hw_shape(program.residue), name=f"{name}_c_out")
        self.coef = Signal(signed(coef_width), name=f"{name}_coef")
        # writes (cycle c + 7 + T)
        self.we = Signal(name=f"{name}_we")
        self.w_addr = Signal(addr_bits, name=f"{name}_w_addr")
        self.x_out = Signal(hw_shape(program.integrator), name=f"{name}_x_out")
        self.r_out = Signal(hw_shape(program.read), name=f"{name}_r_out")
        self.saturated = Signal(name=f"{name}_saturated")  # integrator or read copy clipped (this node)

    @property
    def latency(self) -> int:
        return UPDATE_STAGES + tree_depth(self.lanes)

    def elaborate(self, platform):
        m = Module()
        p = self.program
        acc_w = hw_width(p.acc)
        T = tree_depth(self.lanes)

        def delay(sig, n, tag):
            for k in range(n):
                reg = Signal.like(sig, name=f"{self.name}_{tag}_d{k + 1}")
                m.d.sync += reg.eq(sig)
                sig = reg
            return sig

        valid = delay(self.issue, 1, "v")
        addr = delay(self.addr, 1, "a")
        win = delay(self.window, 1, "w")
        # tree: level 1 = des - src per lane, then pairwise; wrap at the accumulator width
        level = []
        for k in range(self.lanes):
            s = Signal(unsigned(acc_w), name=f"{self.name}_l1_{k}")
            m.d.sync += s.eq(self.des[k] - self.src[k])
            level.append(s)
        depth = 1
        while len(level) > 1:
            depth += 1
            nxt = []
            for k in range(0, len(level), 2):
                s = Signal(unsigned(acc_w), name=f"{self.name}_l{depth}_{k // 2}")
                m.d.sync += s.eq(level[k] + level[k + 1] if k + 1 < len(level) else level[k])
                nxt.append(s)
            level = nxt
        while depth < T:  # only when lanes is not a power of two
            depth += 1
            level = [delay(level[0], 1, f"pad{depth}")]
        acc = level[0].as_signed()  # cycle c + 1 + T
        coef = delay(self.coef, T, "coef")
        valid, addr, win = delay(valid, T, "v"), delay(addr, T, "a"), delay(win, T, "w")
        x = delay(self.x_in, T + 1, "x")
        prod = Signal(signed(acc_w + len(self.coef)), name=f"{self.name}_prod")
        m.d.sync += prod.eq(acc * coef)  # cycle c + 2 + T
        valid, addr, win = delay(valid, 1, "v"), delay(addr, 1, "a"), delay(win, 1, "w")
        shifts = [w.update_shift for w in p.windows]
        incs = [shift_round(prod, s, p.integrator.rounding) for s in shifts]
        inc_w = max(len(v) for v in incs)
        inc = Signal(signed(inc_w), name=f"{self.name}_inc")
        m.d.sync += inc.eq(Array(incs)[win] if len(set(shifts)) > 1 else incs[0])  # cycle c + 3 + T
        valid, addr, x = delay(valid, 1, "v"), delay(addr, 1, "a"), delay(x, 1, "x")
        xn, isat = fit(x + inc, p.integrator)
        x_new = Signal(hw_shape(p.integrator), name=f"{self.name}_x_new")
        isat_r = Signal(name=f"{self.name}_isat")
        m.d.sync += [x_new.eq(xn), isat_r.eq(isat)]  # cycle c + 4 + T
        valid, addr = delay(valid, 1, "v"), delay(addr, 1, "a")
        # the read copy in three stages, one carry chain each (read_state, split): t = X + c, R = rescale(t),
        # c' = fit(t - (R << (Fi - Fr)))
        fi, fr = p.integrator.frac_bits, p.read.frac_bits
        if self.feedback:
            c_old = delay(self.c_in, T + 3, "c")  # cycle c + 4 + T, beside X_n
            t = Signal(signed(max(len(x_new), len(c_old)) + 1), name=f"{self.name}_t")
            m.d.sync += t.eq(x_new + c_old)  # cycle c + 5 + T
        else:
            t = delay(x_new, 1, "t")
        x5, isat5 = delay(x_new, 1, "xn"), delay(isat_r, 1, "isat")
        valid, addr = delay(valid, 1, "v"), delay(addr, 1, "a")
        r_raw, rsat = rescale(t, fi, p.read)
        r = Signal(hw_shape(p.read), name=f"{self.name}_r")
        rsat_r = Signal(name=f"{self.name}_rsat")
        m.d.sync += [r.eq(r_raw), rsat_r.eq(rsat)]  # cycle c + 6 + T
        t6, x6, isat6 = delay(t, 1, "t"), delay(x5, 1, "xn"), delay(isat5, 1, "isat")
        valid, addr = delay(valid, 1, "v"), delay(addr, 1, "a")
        # cycle c + 7 + T: X, R (and c) written together
        m.d.sync += [self.x_out.eq(x6), self.r_out.eq(r), self.saturated.eq(isat6 | rsat_r), self.we.eq(valid),
                     self.w_addr.eq(addr)]
        if self.feedback:
            c_new, _ = fit(t6 - (r << (fi - fr)), p.residue)
            m.d.sync += self.c_out.eq(c_new)
        return m

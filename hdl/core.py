"""EulerCore: the top-level `wiring.Component` of the fixed-point Euler twin.

Ports (Verilog names in brackets):

* `start` [start], `busy` [busy], `done` [done]: a start pulse in IDLE begins an inference;
  busy stays high until the last output is taken, and done pulses in that cycle.
* `inp` [inp__payload/valid/ready]: the initial integrator values (raw, the integrator format)
  of the input nodes, in the circuit's input order; other nodes start at 0.
* `out` [out__payload/valid/ready]: the final integrator values of the output nodes, in order.
* `debug` [debug__payload/valid] (optional, never waits): after every Euler step, one beat per
  node group: {step, group, saturated[U], x[U]} with x the U nodes' new integrator values.
* `cycles` [cycles]: cycles the last inference spent stepping (edge and update phases).

An inference: CLEAR (G cycles: integrator, read copy and accumulators to 0), LOAD (one beat
per input, the read copy computed in LOAD_STAGES pipeline stages), DRAIN (LOAD_STAGES cycles), then per Euler step an EDGE phase (L lanes, one edge each per clock) and an
UPDATE phase (U units, one node each per clock), windows switching after their step
counts, and UNLOAD (one beat per output). The read copy R is double-buffered: a step's
edges read buffer `cur`, its update writes the other, and the buffers swap after the step,
so every edge of a step sees the previous step's state (Jacobi), whatever the schedule.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .fixed import fit, hw_shape, hw_width, rescale
from .lane import EdgeLane
from .plan import LOAD_STAGES, Plan, index_bits
from .storage import NodeStore
from .update import UpdateUnit

STEP_BITS = 32
CYCLE_BITS = 48


def debug_layout(plan: Plan) -> data.StructLayout:
    p = plan.program
    return data.StructLayout({
        "step": unsigned(STEP_BITS),
        "group": unsigned(plan.node_bits),
        "saturated": unsigned(plan.units),
        "x": data.ArrayLayout(hw_shape(p.integrator), plan.units),
    })


class EulerCore(wiring.Component):
    def __init__(self, plan: Plan):
        self.plan = plan
        p = plan.program
        xs = hw_shape(p.integrator)
        members = {
            "start": In(1), "busy": Out(1), "done": Out(1),
            "inp": In(stream.Signature(xs)),
            "out": Out(stream.Signature(xs)),
            "cycles": Out(CYCLE_BITS),
        }
        if plan.config.debug:
            members["debug"] = Out(stream.Signature(debug_layout(plan)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        p = plan.program
        L, U, G = plan.lanes, plan.units, plan.groups
        gp = 1 << plan.node_bits  # words per R buffer
        n_win = len(p.windows)

        # -- state stores ------------------------------------------------------------------------
        cur = Signal(name="cur")  # the R buffer this step's edges read
        r_stores = [NodeStore(hw_shape(p.read), 2 * gp, plan.storage, f"r{u}") for u in range(U)]
        x_stores = [NodeStore(hw_shape(p.integrator), G, plan.storage, f"x{u}") for u in range(U)]
        r_ports = [[(r.read_port(), r.read_port()) for r in r_stores] for _ in range(L)]
        r_wr = [r.write_port() for r in r_stores]
        x_rd = [x.read_port() for x in x_stores]
        x_wr = [x.write_port() for x in x_stores]
        for u in range(U):
            m.submodules[f"r{u}"] = r_stores[u]
            m.submodules[f"x{u}"] = x_stores[u]
        fb = bool(p.read_feedback)  # noise-shaped read: a residue per node, next to X
        if fb:
            c_stores = [NodeStore(hw_shape(p.residue), G, plan.storage, f"c{u}") for u in range(U)]
            c_rd = [cs.read_port() for cs in c_stores]
            c_wr = [cs.write_port() for cs in c_stores]
            for u in range(U):
                m.submodules[f"c{u}"] = c_stores[u]
        # every tanh op of every lane has its own table ROM: a block RAM has one read port, and Yosys turns
        # one table with L read ports into L x ~1,700 LUTs of logic ROM once L > 2 (measured on the UP5K)
        lanes = [EdgeLane(plan, k, r_ports[k], cur) for k in range(L)]
        for k, lane in enumerate(lanes):
            m.submodules[f"lane{k}"] = lane
        # coefficients dt_w / C_n, one ROM per unit: word w * G + j = node j * U + u
        coef_w = max(hw_width(w.coef_fmt) for w in p.windows)
        units, coef_ports = [], []
        for u in range(U):
            init = []
            for w in p.windows:
                for j in range(G):
                    node = j * U + u
                    init.append(int(w.coef[node]) & ((1 << coef_w) - 1) if node < p.n_nodes else 0)
            rom = Memory(shape=unsigned(coef_w), depth=len(init), init=init)
            m.submodules[f"coef{u}"] = rom
            coef_ports.append(rom.read_port())
            unit = UpdateUnit(p, L, plan.node_bits, coef_w, f"upd{u}")
            m.submodules[f"upd{u}"] = unit
            units.append(unit)

        # -- tables ------------------------------------------------------------------------------
        slots = Array(Const(s, 32) for s in plan.slots)
        slot_base = Array(Const(b, 32) for b in plan.slot_base)
        steps = Array(Const(w.steps, 32) for w in p.windows)
        coef_base = Array(Const(wi * G, 32) for wi in range(n_win))
        in_place = [plan.node_place(n) for n in p.inputs]
        out_place = [plan.node_place(n) for n in p.outputs]
        in_bank = Array(Const(b, plan.bank_bits) for b, _ in in_place)
        in_addr = Array(Const(a, plan.node_bits) for _, a in in_place)
        out_bank = Array(Const(b, plan.bank_bits) for b, _ in out_place)
        out_addr = Array(Const(a, plan.node_bits) for _, a in out_place)

        # -- control -----------------------------------------------------------------------------
        edge_len = max(plan.slots) + plan.edge_phase_overhead
        c = Signal(index_bits(max(edge_len, G + plan.update_phase_overhead, G) + 1), name="c")
        win = Signal(index_bits(n_win), name="window")
        step_in_win = Signal(32, name="step_in_window")
        step = Signal(STEP_BITS, name="step")
        k = Signal(index_bits(max(len(p.inputs), len(p.outputs)) + 1), name="k")
        primed = Signal(name="primed")
        cycles = Signal(CYCLE_BITS, name="cycles_r")
        m.d.comb += self.cycles.eq(cycles)

        # defaults: lanes idle in the edge phase, accumulators owned by the update phase
        for lane in lanes:
            m.d.comb += [lane.addr.eq(slot_base[win] + c)]
            for side in (lane.des, lane.src):
                m.d.comb += side.rd_addr.eq(c)
        for u in range(U):
            m.d.comb += [units[u].addr.eq(c), units[u].window.eq(win), coef_ports[u].addr.eq(coef_base[win] + c),
                         x_rd[u].addr.eq(c)]
            for k_lane, lane in enumerate(lanes):
                m.d.comb += [units[u].des[k_lane].eq(lane.des.rd_data[u]),
                             units[u].src[k_lane].eq(lane.src.rd_data[u])]
            m.d.comb += [units[u].x_in.eq(x_rd[u].data), units[u].coef.eq(coef_ports[u].data.as_signed())]
            if fb:
                m.d.comb += [c_rd[u].addr.eq(c), units[u].c_in.eq(c_rd[u].data),
                             c_wr[u].addr.eq(units[u].w_addr), c_wr[u].data.eq(units[u].c_out),
                             c_wr[u].en.eq(units[u].we)]
            # update-phase writes (other phases override below)
            m.d.comb += [x_wr[u].addr.eq(units[u].w_addr), x_wr[u].data.eq(units[u].x_out),
                         x_wr[u].en.eq(units[u].we),
                         r_wr[u].addr.eq(Cat(units[u].w_addr, ~cur)), r_wr[u].data.eq(units[u].r_out),
                         r_wr[u].en.eq(units[u].we)]
        if plan.config.debug:
            dbg = self.debug.payload
            m.d.comb += [self.debug.valid.eq(units[0].we), dbg.step.eq(step + 1), dbg.group.eq(units[0].w_addr)]
            for u in range(U):
                m.d.comb += [dbg.x[u].eq(units[u].x_out), dbg.saturated[u].eq(units[u].saturated)]

        # LOAD in LOAD_STAGES pipeline stages (as the update unit's read copy): beat -> X and the bank and
        # address registered; R = rescale(X) registered; c = fit(X - (R << (Fi - Fr))) as X, R and c are
        # written. The host's word mux and the read copy's two carry chains would otherwise be one path.
        ld_v1, ld_v2 = Signal(name="ld_v1"), Signal(name="ld_v2")
        ld_bank1, ld_bank2 = Signal(plan.bank_bits, name="ld_bank1"), Signal(plan.bank_bits, name="ld_bank2")
        ld_addr1, ld_addr2 = Signal(plan.node_bits, name="ld_addr1"), Signal(plan.node_bits, name="ld_addr2")
        ld_x1, ld_x2 = Signal(hw_shape(p.integrator), name="ld_x1"), Signal(hw_shape(p.integrator), name="ld_x2")
        ld_r2 = Signal(hw_shape(p.read), name="ld_r2")
        ld_r_raw, _ = rescale(ld_x1, p.integrator.frac_bits, p.read)
        m.d.sync += [ld_v2.eq(ld_v1), ld_bank2.eq(ld_bank1), ld_addr2.eq(ld_addr1), ld_x2.eq(ld_x1),
                     ld_r2.eq(ld_r_raw), ld_v1.eq(0)]
        ld_c = None
        if fb:
            ld_c, _ = fit(ld_x2 - (ld_r2 << (p.integrator.frac_bits - p.read.frac_bits)), p.residue)

        def load_writes():
            for lane in lanes:
                m.d.comb += lane.update.eq(1)
            for u in range(U):
                hit = ld_v2 & (ld_bank2 == u) if U > 1 else ld_v2
                m.d.comb += [x_wr[u].addr.eq(ld_addr2), x_wr[u].data.eq(ld_x2), x_wr[u].en.eq(hit),
                             r_wr[u].addr.eq(Cat(ld_addr2, cur)), r_wr[u].data.eq(ld_r2), r_wr[u].en.eq(hit)]
                if fb:
                    m.d.comb += [c_wr[u].addr.eq(ld_addr2), c_wr[u].data.eq(ld_c), c_wr[u].en.eq(hit)]

        with m.FSM(name="phase"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [c.eq(0), cycles.eq(0)]
                    m.next = "CLEAR"
            with m.State("CLEAR"):
                m.d.comb += self.busy.eq(1)
                for lane in lanes:
                    m.d.comb += [lane.update.eq(1), lane.des.clear.eq(1), lane.src.clear.eq(1)]
                for u in range(U):
                    m.d.comb += [x_wr[u].addr.eq(c), x_wr[u].data.eq(0), x_wr[u].en.eq(1),
                                 r_wr[u].addr.eq(Cat(c[:plan.node_bits], cur)), r_wr[u].data.eq(0),
                                 r_wr[u].en.eq(1)]
                    if fb:
                        m.d.comb += [c_wr[u].addr.eq(c), c_wr[u].data.eq(0), c_wr[u].en.eq(1)]
                m.d.sync += c.eq(c + 1)
                with m.If(c == G - 1):
                    m.d.sync += k.eq(0)
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += [self.busy.eq(1), self.inp.ready.eq(1)]
                load_writes()
                with m.If(self.inp.valid):
                    m.d.sync += [ld_v1.eq(1), ld_bank1.eq(in_bank[k]), ld_addr1.eq(in_addr[k]),
                                 ld_x1.eq(self.inp.payload), k.eq(k + 1)]
                    with m.If(k == len(p.inputs) - 1):
                        m.d.sync += [c.eq(0), win.eq(0), step_in_win.eq(0), step.eq(0)]
                        m.next = "DRAIN"
            with m.State("DRAIN"):  # the last beat's X, R and c are written in the second of these cycles
                m.d.comb += self.busy.eq(1)
                load_writes()
                m.d.sync += c.eq(c + 1)
                with m.If(c == LOAD_STAGES - 1):
                    m.d.sync += c.eq(0)
                    m.next = "EDGE"
            with m.State("EDGE"):
                m.d.comb += self.busy.eq(1)
                for lane in lanes:
                    m.d.comb += lane.issue.eq(c < slots[win])
                m.d.sync += [c.eq(c + 1), cycles.eq(cycles + 1)]
                with m.If(c == slots[win] + (plan.edge_phase_overhead - 1)):
                    m.d.sync += c.eq(0)
                    m.next = "UPDATE"
            with m.State("UPDATE"):
                m.d.comb += self.busy.eq(1)
                for lane in lanes:
                    m.d.comb += [lane.update.eq(1), lane.des.clear.eq(c < G), lane.src.clear.eq(c < G)]
                for u in range(U):
                    m.d.comb += units[u].issue.eq(c < G)
                m.d.sync += [c.eq(c + 1), cycles.eq(cycles + 1)]
                with m.If(c == G + plan.update_phase_overhead - 1):
                    m.d.sync += [c.eq(0), cur.eq(~cur), step.eq(step + 1)]
                    with m.If(step_in_win == steps[win] - 1):
                        m.d.sync += step_in_win.eq(0)
                        with m.If(win == n_win - 1):
                            m.d.sync += [k.eq(0), primed.eq(0)]
                            m.next = "UNLOAD"
                        with m.Else():
                            m.d.sync += win.eq(win + 1)
                            m.next = "EDGE"
                    with m.Else():
                        m.d.sync += step_in_win.eq(step_in_win + 1)
                        m.next = "EDGE"
            with m.State("UNLOAD"):
                m.d.comb += self.busy.eq(1)
                for lane in lanes:
                    m.d.comb += lane.update.eq(1)
                for u in range(U):
                    m.d.comb += x_rd[u].addr.eq(out_addr[k])
                x_data = Array(x.data for x in x_rd)[out_bank[k]] if U > 1 else x_rd[0].data
                m.d.comb += [self.out.valid.eq(primed), self.out.payload.eq(x_data)]
                m.d.sync += primed.eq(1)
                with m.If(primed & self.out.ready):
                    m.d.sync += [k.eq(k + 1), primed.eq(0)]
                    with m.If(k == len(p.outputs) - 1):
                        m.d.comb += self.done.eq(1)
                        m.next = "IDLE"
        return m

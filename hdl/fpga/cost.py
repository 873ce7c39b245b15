"""The analytic cost model: LUTs, flip-flops, DSPs and block RAM of the board design, without any tool.

It walks the same structure the generator builds (core.py, lane.py,
datapath.py, tanh.py, accumulate.py, update.py, host_top.py) from the
quantities that size it: edges per window (ROM depth per lane), nodes
(groups per bank), lanes, update units, storage, the formats of every op,
and counts, per block, register bits, adder bits, multiplexer bits and the
multipliers' operand widths. The tools' mapping then turns those into cells:

* DSPs are exact rules of Yosys's `mul2dsp` as synth_ice40 -dsp / synth_ecp5
  call it: an operand wider than the tile (16 x 16 SB_MAC16, 18 x 18
  MULT18X18D) is cut into tile-wide chunks from the bottom, and a chunk
  pair goes to a DSP when both chunks are at least 2 bits wide (and, on
  iCE40, the product at least 11); the rest become LUT logic.
* Block RAM is the tiling of each memory (width x depth) onto the family's
  block shapes, the cheapest shape per memory (Yosys's memory_bram does the
  same search); memories under MIN_BRAM_BITS stay in LUTs or flip-flops.
* LUTs and flip-flops are the counted bits times a per-family factor, plus
  the host's fixed part (UART, framing, CRC, status counters), both taken
  from one Yosys synthesis (FACTORS; bench/fpga_cost.py re-measures them and
  prints the model against Yosys for L = 1, 4, 16).

Cycles are not modelled: they are the plan's (`Plan.run_cycles`), which the
cocotb benches assert equal to the simulated count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kgen.emulation.program import OpCode

from ..fixed import hw_width
from ..plan import OP_LATENCY, Plan, index_bits, tree_depth
from ..protocol import word_bytes
from .devices import Family, Resource


@dataclass(frozen=True)
class FamilyRules:
    dsp_a: int  # DSP tile operand widths
    dsp_b: int
    dsp_min_y: int  # narrowest product mul2dsp maps to a DSP
    dsp_min_chunk: int  # narrowest operand chunk that still goes to a DSP (narrower: LUT logic)
    bram_shapes: tuple[tuple[int, int], ...]  # (width, depth) of one block RAM's configurations
    min_bram_bits: int  # smaller memories stay in logic
    min_bram_depth: int  # and so do shallower ones (Yosys builds a 57-deep ROM from LUTs)
    lut_factor: float  # LUTs per counted logic bit
    ff_factor: float  # flip-flops per counted register bit
    host_lut: int  # the fixed part: UART, framing, CRC, status, control
    host_ff: int


#: Per-family rules. DSP chunking: Yosys 0.23's mul2dsp as synth_ice40 / synth_ecp5 call it (on iCE40 a chunk
#: under 4 bits went to LUTs in every measured product). The LUT and FF factors and fixed parts: a least-squares
#: fit (relative error) to Yosys 0.23 on the twomoon board design and the five-kind example at L = 1 and 4;
#: ECP5's then predicted twomoon at L = 16 within 9 %, iCE40's LUTs 22 % under (its wide adders cost more
#: past L = 4), so iCE40's LUT pair is refitted with L = 16 included. bench/fpga_cost.py prints the model
#: against Yosys. xc7: the ECP5 factors (LUT6 pack more, so an upper estimate; no xc7 figure is asserted).
FACTORS = {
    Family.ICE40: FamilyRules(16, 16, 11, 4, ((16, 256), (8, 512), (4, 1024), (2, 2048)), 1024, 64,
                              0.641, 0.934, 1756, 752),
    Family.ECP5: FamilyRules(18, 18, 0, 2, ((36, 512), (18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384)),
                             1024, 64, 0.502, 0.942, 1353, 616),
    Family.XC7: FamilyRules(25, 18, 0, 2, ((72, 512), (36, 1024), (18, 2048), (9, 4096), (4, 8192), (2, 16384),
                                           (1, 32768)), 1024, 64, 0.5, 0.94, 1350, 620),
}


@dataclass
class Tally:
    """Counted bits of one block."""

    reg: int = 0  # flip-flop bits
    logic: int = 0  # adder, comparator and multiplexer bits (LUT inputs)
    mults: list = None  # (a, b, y) operand and product widths
    mems: list = None  # (width, depth) memories

    def __post_init__(self):
        self.mults = [] if self.mults is None else self.mults
        self.mems = [] if self.mems is None else self.mems

    def add(self, other: "Tally", times: int = 1) -> None:
        self.reg += times * other.reg
        self.logic += times * other.logic
        self.mults += other.mults * times
        self.mems += other.mems * times


def _chunks(w: int, tile: int) -> list[int]:
    out = []
    while w > tile:
        out.append(tile)
        w -= tile
    return out + [w]


def multiplier(rules: FamilyRules, a: int, b: int, y: int) -> tuple[int, int]:
    """(DSP tiles, LUT logic bits) of an a x b -> y multiplier (mul2dsp's split)."""
    if min(a, b) < 2 or y < rules.dsp_min_y:
        return 0, a * b  # a LUT multiplier
    dsp, logic = 0, 0
    ca, cb = _chunks(a, rules.dsp_a), _chunks(b, rules.dsp_b)
    for x in ca:
        for z in cb:
            if min(x, z) >= rules.dsp_min_chunk and x + z >= rules.dsp_min_y:
                dsp += 1
            else:
                logic += x * z
    pieces = len(ca) * len(cb)
    return dsp, logic + (pieces - 1) * (a + b)  # the partial products' adders


def live_columns(words, width: int) -> int:
    """Bit columns of a ROM image that are not constant (Yosys drops the constant ones before mapping)."""
    ones, zeros = 0, 0
    for w in words:
        w = int(w)
        ones |= w
        zeros |= ~w
    mask = (1 << width) - 1
    return bin(ones & zeros & mask).count("1")


def tanh_columns(table) -> int:
    of = table.spec.out_frac
    return live_columns([int(b) | (int(r) << of) for b, r in zip(table.base, table.rise)], 2 * of)


def bram_blocks(rules: FamilyRules, width: int, depth: int) -> int:
    if width * depth < rules.min_bram_bits or depth < rules.min_bram_depth:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in rules.bram_shapes)


def _kind(plan: Plan, k: int) -> Tally:
    """One kind datapath of one lane: every op's result registered (and delayed to where it is read), its
    adders, multipliers and tanh units (each with its own table ROM)."""
    from ..datapath import schedule

    p = plan.program
    kp = p.kinds[k]
    fmts = kp.formats(p.read)
    start, _ = schedule(kp)
    t = Tally()
    ready, width, last_read = {}, {}, {}
    for op in kp.ops:
        for a in op.args:
            if a in ready:
                last_read[a] = max(last_read.get(a, 0), start[op.out])
        w = hw_width(op.fmt)
        args = [hw_width(fmts[a]) if a in fmts else 0 for a in op.args]
        if op.code is OpCode.TANH:
            spec = p.tanh.spec
            of, tb, zw = spec.out_frac, spec.seg_shift, args[0]
            t.reg += (zw + 1) + tb + (of + 1) + (of + 2) + 3  # |z|, t, y, out, the sign
            t.logic += (zw + 1) + zw + (spec.arg_frac + 4) + (of + 1) + (of + 2)  # |z|, round, clamp, y, -y
            t.mults.append((of, tb, of + tb))
            t.mems.append((tanh_columns(p.tanh), spec.segments))
        else:
            t.reg += w
            if op.code in (OpCode.ADD, OpCode.SUB, OpCode.NEG, OpCode.RELU):
                t.logic += w
            elif op.code is OpCode.MUL:
                t.mults.append((args[0], args[1], w))
            elif op.code in (OpCode.MULC, OpCode.LEAKY):  # by a constant: shifts and adds (no DSP)
                t.logic += w * max(1, bin(abs(int(op.const))).count("1")) + (2 * w if op.code is OpCode.LEAKY else 0)
        ready[op.out], width[op.out] = start[op.out] + OP_LATENCY[op.code], hw_width(op.fmt)
    last_read[kp.current.out] = plan.kind_depth  # the current waits for the lane's depth D
    t.reg += sum(max(0, last_read.get(v, r) - r) * width[v] for v, r in ready.items())
    return t


def _lane(plan: Plan) -> Tally:
    p = plan.program
    rw, aw = hw_width(p.read), hw_width(p.acc)
    U, G, D = plan.units, plan.groups, plan.kind_depth
    t = Tally()
    rom_w = live_columns(plan.lane_words[0], plan.word_bits) if plan.lane_words else plan.word_bits
    t.mems.append((rom_w, max(1, sum(plan.slots))))  # the parameter ROM (its constant columns dropped)
    from ..datapath import schedule

    # the lane word's delay line: every bit registered up to the last stage any kind reads it (control: D);
    # the terminals' lines to the last stage a kind reads them
    last = [D] * sum(plan.fields[n].width for n in plan.fields) + [0] * (plan.word_bits - plan.fields["des_addr"].offset
                                                                          - plan.fields["des_addr"].width)
    term = 0
    for k, kl in enumerate(plan.kinds):
        _, needs = schedule(p.kinds[k])
        by_name = {f.name: f for f in kl.params}
        for name, stage in needs:
            if name in ("v_src", "v_des"):
                term = max(term, stage)
            else:
                f = by_name[name]
                for b in range(f.offset, f.offset + f.width):
                    last[b] = max(last[b], stage)
    t.reg += sum(s + 1 for s in last) + 2 * rw * (term + 1)
    t.logic += 2 * rw  # ground muxes
    if U > 1:
        t.logic += 2 * rw * (U - 1)  # bank selection
    for k in range(len(p.kinds)):
        t.add(_kind(plan, k))
    # two accumulator sides: (valid, bank, addr, value) and the last write, the add, the forwarding mux
    side_reg = 2 * aw + 2 * (1 + plan.bank_bits + plan.node_bits)
    side_logic = 3 * aw + 2 * (plan.bank_bits + plan.node_bits)
    if plan.storage.value == "registers":
        side_reg += U * G * aw
        side_logic += U * max(0, G - 1) * aw + U * G * aw  # the read mux, the write enables
    else:
        t.mems += [(aw, G)] * (2 * U)
    t.reg += 2 * side_reg
    t.logic += 2 * side_logic
    return t


def _unit(plan: Plan, coef_w: int) -> Tally:
    p = plan.program
    L, T = plan.lanes, tree_depth(plan.lanes)
    aw, xw, rw = hw_width(p.acc), hw_width(p.integrator), hw_width(p.read)
    cw = hw_width(p.residue) if p.read_feedback else 0
    t = Tally()
    t.reg += (2 * L - 1) * aw + (aw + coef_w) + (aw + coef_w) + 3 * xw + 2 * rw + cw
    t.reg += T * coef_w + (T + 2) * xw + (T + 3) * cw + (T + 8) * (plan.node_bits + 2)  # the delay lines
    t.logic += (2 * L - 1) * aw + (aw + coef_w) + 2 * xw + (xw + 1) + 2 * rw + cw
    t.mults.append((aw, coef_w, aw + coef_w))
    t.mems.append((coef_w, len(p.windows) * plan.groups))
    return t


def _stores(plan: Plan) -> Tally:
    """The integrator X, the double-buffered read copy R and the residue c, per bank."""
    p = plan.program
    U, G, L = plan.units, plan.groups, plan.lanes
    xw, rw = hw_width(p.integrator), hw_width(p.read)
    cw = hw_width(p.residue) if p.read_feedback else 0
    gp = 1 << plan.node_bits
    t = Tally()
    for width, depth, reads in ((xw, G, 1), (rw, 2 * gp, 2 * L), (cw, G, 1)):
        if not width:
            continue
        if plan.storage.value == "registers":
            t.reg += U * depth * width
            t.logic += U * (reads * max(0, depth - 1) * width + depth * width)
        else:
            t.mems += [(width, depth)] * U
    return t


def _host(plan: Plan) -> Tally:
    p = plan.program
    xw = hw_width(p.integrator)
    wb = word_bytes(xw)
    t = Tally()
    t.mems += [(8, len(p.inputs) * wb), (xw, len(p.outputs))]
    t.reg += 2 * xw + index_bits(len(p.inputs) * wb) + index_bits(len(p.outputs))
    return t


@dataclass(frozen=True)
class CostEstimate:
    lut: int
    ff: int
    dsp: int
    bram: int
    cycles: int
    parameter_bits: int  # bits in the lanes' parameter ROMs

    def used(self) -> dict:
        return {Resource.LUT: self.lut, Resource.FF: self.ff, Resource.DSP: self.dsp, Resource.BRAM: self.bram}


def estimate(plan: Plan, family: Family) -> CostEstimate:
    """The board design's resources on a family, from the plan alone."""
    rules = FACTORS[family]
    coef_w = max(hw_width(w.coef_fmt) for w in plan.program.windows)
    total = Tally()
    total.add(_lane(plan), plan.lanes)
    total.add(_unit(plan, coef_w), plan.units)
    total.add(_stores(plan))
    total.add(_host(plan))
    dsp, mult_logic = 0, 0
    for a, b, y in total.mults:
        d, lg = multiplier(rules, a, b, y)
        dsp += d
        mult_logic += lg
    bram = 0
    for width, depth in total.mems:
        blocks = bram_blocks(rules, width, depth)
        bram += blocks
        if not blocks:
            total.logic += width * -(-depth // 8)  # a small memory as LUT logic
    lut = round(rules.lut_factor * (total.logic + mult_logic)) + rules.host_lut
    ff = round(rules.ff_factor * total.reg) + rules.host_ff
    rom_bits = plan.lanes * plan.word_bits * sum(plan.slots)
    return CostEstimate(lut, ff, dsp, bram, plan.run_cycles(), rom_bits)

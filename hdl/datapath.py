"""KindDatapath: one device kind's lowered op list as a pipelined Amaranth datapath.

The ops are those of `emulation.program` (the NumPy interpreter runs the same
list): every op's result is registered in its exact format (the lowering
sized each format so no value can overflow, so holding it in
`hw_shape(op.fmt)` is exact), and TANH takes the table's two cycles. An op
starts as soon as its operands are ready (`schedule`); the current leaves
`depth` cycles after the terminals enter (shorter kinds are padded so every
kind of a lane lines up), shifted left by the kind's `acc_shift` into the
accumulator's fraction bits.

The datapath does not delay its own inputs: it asks for each terminal or
parameter at the stage where an op reads it (`inputs[(name, stage)]`), and
the lane feeds those from delay lines it shares between all kinds (one
lane-word register per stage instead of one per kind and parameter).
`KindHarness` supplies stage-0 inputs and the delays for a stand-alone
datapath (tests).
"""

from __future__ import annotations

from amaranth.hdl import Const, Elaboratable, Module, Mux, Signal, signed

from kgen.emulation.program import KindProgram, OpCode, Program

from .fixed import align, hw_shape, hw_width
from .plan import OP_LATENCY
from .tanh import TanhUnit


def _const(value: int):
    return Const(int(value), signed(max(1, int(value).bit_length() + 1)))


def schedule(kp: KindProgram) -> tuple[dict[str, int], set[tuple[str, int]]]:
    """(op out -> start stage, the (input name, stage) pairs the ops read); inputs are ready at stage 0."""
    constants = {c[0] for c in kp.constants}
    ready = {n: 0 for n in ("v_src", "v_des", *kp.params)}
    start, needs = {}, set()
    for op in kp.ops:
        s = max((ready[a] for a in op.args if a not in constants), default=0)
        start[op.out] = s
        for a in op.args:
            if a in ready and a not in start and a not in constants:
                needs.add((a, s))
        ready[op.out] = s + OP_LATENCY[op.code]
    return start, needs


class KindDatapath(Elaboratable):
    """`inputs[(name, stage)]`: v_src, v_des (read format) and parameters at the stages the ops read them.

    rom: a tanh table ROM shared with other datapaths (None: each TanhUnit builds its own).
    """

    def __init__(self, program: Program, kind: int, depth: int, rom=None, name: str = "kind"):
        self.program = program
        self.kp: KindProgram = program.kinds[kind]
        self.depth = int(depth)
        self.name = name
        self._formats = self.kp.formats(program.read)
        self._frac = {n: f.frac_bits for n, f in self._formats.items()}
        self._frac.update({c[0]: c[2] for c in self.kp.constants})
        self._start, needs = schedule(self.kp)
        self.inputs = {(n, s): Signal(hw_shape(self._formats[n]), name=f"{name}_{n}_s{s}") for n, s in sorted(needs)}
        self.current = Signal(hw_shape(program.acc), name=f"{name}_current")
        if self.latency > self.depth:
            raise ValueError(f"kind {self.kp.kind} needs {self.latency} cycles, lane depth is {self.depth}")
        self._tanh = [TanhUnit(program.tanh, hw_width(self._formats[op.args[0]]), self._frac[op.args[0]], rom)
                      for op in self.kp.ops if op.code is OpCode.TANH]  # read ports exist before elaboration

    @property
    def latency(self) -> int:
        last = self.kp.current
        return self._start[last.out] + OP_LATENCY[last.code]

    def elaborate(self, platform):
        m = Module()
        consts = {c[0]: _const(c[1]) for c in self.kp.constants}
        outs: dict[str, tuple[int, Signal]] = {}  # op out -> (ready stage, registered value)
        delayed: dict[tuple[str, int], Signal] = {}

        def operand(name: str, stage: int):
            if name in consts:
                return consts[name]
            if name not in outs:
                return self.inputs[(name, stage)]
            ready, sig = outs[name]
            for s in range(ready + 1, stage + 1):  # an op result read later than it is produced
                if (name, s) not in delayed:
                    reg = Signal.like(sig, name=f"{self.name}_{name}_d{s}")
                    m.d.sync += reg.eq(delayed.get((name, s - 1), sig))
                    delayed[(name, s)] = reg
            return delayed.get((name, stage), sig)

        tanh_units = iter(self._tanh)
        for k, op in enumerate(self.kp.ops):
            start = self._start[op.out]
            args = [operand(a, start) for a in op.args]
            fr = [self._frac[a] for a in op.args]
            f = op.fmt.frac_bits
            out = Signal(hw_shape(op.fmt), name=f"{self.name}_{op.out}")
            if op.code is OpCode.TANH:
                unit = next(tanh_units)
                m.submodules[f"{self.name}_tanh{k}"] = unit
                m.d.comb += [unit.z.eq(args[0]), out.eq(unit.out)]  # the unit's output is registered
            else:
                if op.code is OpCode.ADD:
                    expr = align(args[0], fr[0], f) + align(args[1], fr[1], f)
                elif op.code is OpCode.SUB:
                    expr = align(args[0], fr[0], f) - align(args[1], fr[1], f)
                elif op.code is OpCode.MUL:
                    expr = args[0] * args[1]
                elif op.code is OpCode.NEG:
                    expr = -args[0]
                elif op.code is OpCode.MULC:
                    expr = args[0] * _const(op.const)
                elif op.code is OpCode.RELU:
                    expr = Mux(args[0] < 0, 0, args[0])
                elif op.code is OpCode.LEAKY:
                    neg = (args[0] * _const(op.const) + (1 << (op.const_frac - 1))) >> op.const_frac
                    expr = Mux(args[0] >= 0, args[0], neg)
                else:  # pragma: no cover - the lowering emits nothing else
                    raise AssertionError(op.code)
                m.d.sync += out.eq(expr)
            outs[op.out] = (start + OP_LATENCY[op.code], out)
        cur = operand(self.kp.current.out, self.depth)
        m.d.comb += self.current.eq(cur << self.kp.acc_shift)
        return m


class KindHarness(Elaboratable):
    """A KindDatapath with stage-0 inputs (v_src, v_des, params) and its own input delay lines."""

    def __init__(self, program: Program, kind: int, depth: int, name: str = "kind"):
        self.dp = KindDatapath(program, kind, depth, name=name)
        kp = self.dp.kp
        self.v_src = Signal(hw_shape(program.read), name=f"{name}_v_src")
        self.v_des = Signal(hw_shape(program.read), name=f"{name}_v_des")
        self.params = {p: Signal(hw_shape(f), name=f"{name}_in_{p}") for p, f in zip(kp.params, kp.param_formats)}
        self.current = self.dp.current

    def elaborate(self, platform):
        m = Module()
        m.submodules.dp = self.dp
        src = {"v_src": self.v_src, "v_des": self.v_des, **self.params}
        for (name, stage), sig in self.dp.inputs.items():
            v = src[name]
            for s in range(stage):
                reg = Signal.like(v, name=f"{name}_h{s + 1}")
                m.d.sync += reg.eq(v)
                v = reg
            m.d.comb += sig.eq(v)
        return m

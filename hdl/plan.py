"""The static plan of the Euler core: how a lowered Program maps onto L lanes and U update units.

Pure Python (no Amaranth): the generator, the manifest, the benches and the
cycle formula all read the same plan.

* Edges. Window w's edges, in the program's canonical order, are dealt to the
  lanes round robin: edge k runs on lane k % L in slot k // L, so a step
  issues S_w = ceil(E_w / L) slots. Each lane has one ROM word per (window,
  slot): a live bit, the program kind index, the terminals (a ground flag, an
  update bank and a bank address each) and the kind's stored parameters.
* Nodes. Node n (1-based) lives in bank (n - 1) % U at address (n - 1) // U;
  update unit u owns bank u, so a step's update phase takes G = ceil(N / U)
  cycles.
* Cycles. A step is an edge phase of S_w + 3 + D cycles (D: the deepest kind
  datapath) and an update phase of G + 7 + T cycles (T = ceil(log2(2 L))
  adder-tree levels): ceil(E_w / L) + ceil(N / U) + C with C = 10 + D + T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kgen.emulation.program import OpCode, Program
from kgen.emulation.views import MAX_READ_BITS, MAX_STATE_BITS
from kgen.errors import UnsupportedError, expected_found
from kgen.quant import Storage, check_parallelism

#: Widest value a port or memory word of the core may carry (the integer program keeps 63).
MAX_WORD_BITS = 63
#: The generator's format limits (the read copy feeds every lane's multipliers, the integrator is the
#: state word) are the twin views' option limits, emulation.views MAX_READ_BITS and MAX_STATE_BITS.

#: Per-op pipeline latency (TANH: |z|, the table read, the interpolation, the sign; hdl/tanh.py).
OP_LATENCY = {code: 1 for code in OpCode} | {OpCode.TANH: 4}


#: Update-unit cycles from issue to write, besides the T adder-tree levels (update.py).
UPDATE_STAGES = 7

#: Core LOAD pipeline stages (an input beat -> its X, R and c written), drained before the first step.
LOAD_STAGES = 2

#: AUTO picks registers up to this many words per bank.
REGISTER_LIMIT = 16


@dataclass(frozen=True)
class HdlConfig:
    """The core's parallelism and storage (the model's HdlChoices, resolved) plus its debug port."""

    lanes: int = 1
    units: int = 1
    storage: Storage = Storage.AUTO
    debug: bool = True  # the per-step state port

    def __post_init__(self):
        object.__setattr__(self, "storage", Storage(self.storage))


def tree_depth(lanes: int) -> int:
    """T: registered adder-tree levels over the 2L partial sums (des - src per lane, then pairs)."""
    return max(1, (2 * lanes - 1).bit_length())


def index_bits(n: int) -> int:
    """Bits to index n things (at least 1)."""
    return max(1, (max(1, n) - 1).bit_length())



@dataclass(frozen=True)
class Field:
    name: str
    offset: int
    width: int


@dataclass(frozen=True, eq=False)
class KindLayout:
    """Where one kind's stored parameters sit in the lane word (after the fixed fields)."""

    index: int  # program kind index
    params: tuple[Field, ...]


@dataclass(frozen=True, eq=False)
class Plan:
    program: Program
    config: HdlConfig
    storage: Storage  # resolved (never AUTO)
    lanes: int
    units: int
    groups: int  # G = ceil(N / U): update cycles and bank depth
    slots: tuple[int, ...]  # S_w per execution window
    slot_base: tuple[int, ...]  # first ROM word of each window
    fields: dict  # fixed lane-word fields by name
    kinds: tuple[KindLayout, ...]
    word_bits: int
    kind_depth: int  # D: cycles through the deepest kind datapath
    tree_depth: int  # T: adder-tree levels over 2L partial sums
    lane_words: tuple[np.ndarray, ...]  # per lane: object array of Python ints (the ROM image)

    # -- cycle formula -----------------------------------------------------------------------------
    @property
    def edge_phase_overhead(self) -> int:
        return 3 + self.kind_depth

    @property
    def update_phase_overhead(self) -> int:
        return UPDATE_STAGES + self.tree_depth

    @property
    def overhead(self) -> int:
        """C in ceil(E_w / L) + ceil(N / U) + C."""
        return self.edge_phase_overhead + self.update_phase_overhead

    def step_cycles(self, wi: int) -> int:
        """Cycles of one Euler step of execution window wi."""
        return self.slots[wi] + self.groups + self.overhead

    def run_cycles(self) -> int:
        """Cycles from the first step's start to the last step's end."""
        return sum(w.steps * self.step_cycles(i) for i, w in enumerate(self.program.windows))

    @property
    def node_bits(self) -> int:
        return index_bits(self.groups)

    @property
    def bank_bits(self) -> int:
        return index_bits(self.units)

    def node_place(self, node: int) -> tuple[int, int]:
        """(bank, address) of node 1..N."""
        return (node - 1) % self.units, (node - 1) // self.units

    def summary(self) -> dict:
        return {
            "lanes": self.lanes, "update_units": self.units, "storage": self.storage.value,
            "groups": self.groups, "slots_per_window": list(self.slots), "lane_word_bits": self.word_bits,
            "kind_pipeline_depth": self.kind_depth, "tree_depth": self.tree_depth,
            "overhead_cycles": self.overhead,
            "cycles_per_step": [self.step_cycles(i) for i in range(len(self.slots))],
            "run_cycles": self.run_cycles(),
            "formula": "cycles per Euler step = ceil(E_w / L) + ceil(N / U) + C, "
                       f"C = {3 + UPDATE_STAGES} + D + T = {self.overhead} (D = {self.kind_depth}, T = {self.tree_depth})",
        }


def kind_depth(program: Program) -> int:
    """The deepest kind datapath: op latencies along the longest dependency chain."""
    depth = 0
    for kp in program.kinds:
        ready = {"v_src": 0, "v_des": 0, **{p: 0 for p in kp.params}, **{c[0]: 0 for c in kp.constants}}
        for op in kp.ops:
            ready[op.out] = max(ready[a] for a in op.args) + OP_LATENCY[op.code]
        depth = max(depth, ready[kp.current.out])
    return depth


def _pack(values: list[tuple[int, int]]) -> int:
    """Little-endian concatenation of (value, width) as two's complement fields."""
    word, off = 0, 0
    for value, width in values:
        word |= (int(value) & ((1 << width) - 1)) << off
        off += width
    return word


def make_plan(program: Program, config: HdlConfig = HdlConfig(), images: bool = True) -> Plan:
    """The plan; `images=False` skips the lanes' ROM images (lane_words empty): the layout and the cycle
    formula alone, which the cost model and `kgen fpga plan` read for circuits of any size."""
    from .fixed import hw_width

    lanes, units = check_parallelism(config.lanes, config.units, [w.n_edges for w in program.windows],
                                     program.n_nodes)
    n = program.n_nodes
    for what, fmt, limit in (("read format", program.read, MAX_READ_BITS),
                             ("integrator format", program.integrator, MAX_STATE_BITS),
                             ("accumulator", program.acc, MAX_WORD_BITS)):
        if hw_width(fmt) > limit:
            raise UnsupportedError(expected_found(f"{what} {fmt}", f"at most {limit} bits in the HDL core",
                                                  f"{hw_width(fmt)} bits"))
    groups = math.ceil(n / units)
    storage = config.storage
    if storage is Storage.AUTO:
        storage = Storage.REGISTERS if groups <= REGISTER_LIMIT else Storage.RAM
    gb, ub = index_bits(groups), index_bits(units)
    kb = index_bits(len(program.kinds))
    widths = [("live", 1), ("kind", kb), ("src_gnd", 1), ("src_bank", ub), ("src_addr", gb),
              ("des_gnd", 1), ("des_bank", ub), ("des_addr", gb)]
    fields, off = {}, 0
    for name, w in widths:
        fields[name] = Field(name, off, w)
        off += w
    kinds, pbits = [], 0
    for ki, kp in enumerate(program.kinds):
        params, p_off = [], off
        for pname, fmt in zip(kp.params, kp.param_formats):
            params.append(Field(pname, p_off, hw_width(fmt)))
            p_off += hw_width(fmt)
        kinds.append(KindLayout(ki, tuple(params)))
        pbits = max(pbits, p_off - off)
    word_bits = off + pbits

    slots = tuple(math.ceil(w.n_edges / lanes) for w in program.windows)
    slot_base = tuple(int(x) for x in np.concatenate([[0], np.cumsum(slots)[:-1]]))
    total = sum(slots)
    images = [np.zeros(total, dtype=object) for _ in range(lanes)] if images else []
    for wi, win in enumerate(program.windows if images else ()):
        kind_of = np.empty(win.n_edges, np.int64)
        col_of = np.empty(win.n_edges, np.int64)
        range_of = np.empty(win.n_edges, np.int64)
        for r, (k, start, stop) in enumerate(win.kind_ranges):
            kind_of[start:stop] = k
            col_of[start:stop] = np.arange(stop - start)
            range_of[start:stop] = r
        for e in range(win.n_edges):
            k = int(kind_of[e])
            s, d = int(win.src[e]), int(win.des[e])
            sb, sa = ((s - 1) % units, (s - 1) // units) if s else (0, 0)
            db, da = ((d - 1) % units, (d - 1) // units) if d else (0, 0)
            vals = [(1, 1), (k, kb), (int(s == 0), 1), (sb, ub), (sa, gb), (int(d == 0), 1), (db, ub), (da, gb)]
            pr = win.params[int(range_of[e])]
            vals += [(int(pr[row, col_of[e]]), f.width) for row, f in enumerate(kinds[k].params)]
            images[e % lanes][slot_base[wi] + e // lanes] = _pack(vals)
    for img in images:
        img.setflags(write=False)
    tree = tree_depth(lanes)
    return Plan(program, config, storage, lanes, units, groups, slots, slot_base, fields, tuple(kinds),
                word_bits, kind_depth(program), tree, tuple(images))

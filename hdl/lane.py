"""EdgeLane: one edge per clock, pipelined, from the lane's parameter ROM to its partial sums.

For a slot issued in cycle c (ROM address `addr`):

    c          ROM read (the lane word: live, kind, terminals, parameters)
    c + 1      the word arrives; both terminals' read copies R are requested
               (every update bank at the terminal's address; the bank is chosen next cycle)
    c + 2      v_src, v_des (0 at ground) and the parameters enter every kind datapath
    c + 2 + D  the current of the word's kind (each datapath padded to depth D), shifted into the
               accumulator's fraction bits, enters both accumulator sides (cycle A)
    c + 3 + D  read-modify-write with forwarding (cycle B); the sums are final one cycle later

The current is added on the destination side and on the source side (the
update subtracts the latter); a ground terminal has no side.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Elaboratable, Module, Mux, Signal, unsigned
from amaranth.lib.memory import Memory

from .accumulate import AccumulatorSide
from .datapath import KindDatapath
from .fixed import hw_shape, hw_width
from .plan import Plan


class EdgeLane(Elaboratable):
    """Lane `index` of a plan; `r_ports[u]` = (src port, des port) on R bank u, given by the core."""

    def __init__(self, plan: Plan, index: int, r_ports, buf_bit, tanh_rom=None):
        """tanh_rom: one table ROM for the lane's tanh ops (None: each op's TanhUnit has its own)."""
        self.plan = plan
        self.index = index
        p = plan.program
        self.r_ports = r_ports
        self.buf_bit = buf_bit  # the R buffer the edges read (ping-pong), a core signal
        words = [int(w) for w in plan.lane_words[index]]
        self.rom = Memory(shape=unsigned(plan.word_bits), depth=max(1, len(words)), init=words)
        self._rom_port = self.rom.read_port()
        self.issue = Signal(name=f"lane{index}_issue")
        self.addr = Signal(max(1, (len(words) - 1).bit_length()), name=f"lane{index}_addr")
        self.update = Signal(name=f"lane{index}_update")  # the update phase owns the accumulators
        acc_w = hw_width(p.acc)
        self.des = AccumulatorSide(acc_w, plan.units, plan.groups, plan.storage, f"lane{index}_des")
        self.src = AccumulatorSide(acc_w, plan.units, plan.groups, plan.storage, f"lane{index}_src")
        self.tanh_rom = tanh_rom
        self.datapaths = [KindDatapath(p, k, plan.kind_depth, self.tanh_rom, f"lane{index}_k{k}")
                          for k in range(len(p.kinds))]

    def elaborate(self, platform):
        m = Module()
        plan, p = self.plan, self.plan.program
        name = f"lane{self.index}"
        m.submodules.rom = self.rom
        m.submodules.des = self.des
        m.submodules.src = self.src
        for k, dp in enumerate(self.datapaths):
            m.submodules[f"k{k}"] = dp
        m.d.comb += [self._rom_port.addr.eq(self.addr), self._rom_port.en.eq(1)]
        v1 = Signal(name=f"{name}_v1")
        m.d.sync += v1.eq(self.issue)
        word = self._rom_port.data  # cycle c + 1

        def field(n):
            f = plan.fields[n]
            return word[f.offset:f.offset + f.width]

        # cycle c + 1: request R at both terminals from every bank
        for ps, pd in self.r_ports:  # R address = Cat(node address, buffer)
            m.d.comb += [ps.addr.eq(Cat(field("src_addr"), self.buf_bit)),
                         pd.addr.eq(Cat(field("des_addr"), self.buf_bit))]
        # register the rest of the word for cycle c + 2
        w2 = Signal.like(word, name=f"{name}_word2")
        v2 = Signal(name=f"{name}_v2")
        m.d.sync += [w2.eq(word), v2.eq(v1)]

        def field2(n):
            f = plan.fields[n]
            return w2[f.offset:f.offset + f.width]

        read_shape = hw_shape(p.read)
        if plan.units > 1:
            r_src = Array(ps.data for ps, _ in self.r_ports)[field2("src_bank")]
            r_des = Array(pd.data for _, pd in self.r_ports)[field2("des_bank")]
        else:
            r_src, r_des = self.r_ports[0][0].data, self.r_ports[0][1].data
        v_src = Signal(read_shape, name=f"{name}_v_src")
        v_des = Signal(read_shape, name=f"{name}_v_des")
        m.d.comb += [v_src.eq(Mux(field2("src_gnd"), 0, r_src.as_signed())),
                     v_des.eq(Mux(field2("des_gnd"), 0, r_des.as_signed()))]
        # delay lines shared by every kind: the lane word (parameters and control) and the terminals
        words, valids = [w2], [v2]
        lines = {"v_src": [v_src], "v_des": [v_des]}

        def word_at(stage):
            while len(words) <= stage:
                reg = Signal.like(word, name=f"{name}_word{len(words) + 2}")
                vr = Signal(name=f"{name}_v{len(words) + 2}")
                m.d.sync += [reg.eq(words[-1]), vr.eq(valids[-1])]
                words.append(reg)
                valids.append(vr)
            return words[stage]

        def terminal_at(which, stage):
            line = lines[which]
            while len(line) <= stage:
                reg = Signal(read_shape, name=f"{name}_{which}_{len(line)}")
                m.d.sync += reg.eq(line[-1])
                line.append(reg)
            return line[stage]

        for k, dp in enumerate(self.datapaths):
            fields = {f.name: f for f in plan.kinds[k].params}
            for (pname, stage), sig in dp.inputs.items():
                if pname in lines:
                    m.d.comb += sig.eq(terminal_at(pname, stage))
                else:
                    f = fields[pname]
                    m.d.comb += sig.eq(word_at(stage)[f.offset:f.offset + f.width].as_signed())
        wD = word_at(plan.kind_depth)  # the control fields, D cycles on (cycle c + 2 + D)
        valid = valids[plan.kind_depth]
        ctl = {n: wD[plan.fields[n].offset:plan.fields[n].offset + plan.fields[n].width]
               for n in ("live", "kind", "src_gnd", "src_bank", "src_addr", "des_gnd", "des_bank", "des_addr")}
        currents = [dp.current for dp in self.datapaths]
        current = Array(currents)[ctl["kind"]] if len(currents) > 1 else currents[0]
        live = valid & ctl["live"]
        for side, tag in ((self.des, "des"), (self.src, "src")):
            m.d.comb += [side.in_valid.eq(live & ~ctl[f"{tag}_gnd"]), side.in_bank.eq(ctl[f"{tag}_bank"]),
                         side.in_addr.eq(ctl[f"{tag}_addr"]), side.in_value.eq(current),
                         side.update.eq(self.update)]
        return m

"""AccumulatorSide: one lane's wrap-around partial sums for one terminal side, over U banks.

Each lane keeps two sides (currents into destinations, currents out of
sources), so every edge is one read-modify-write per side per clock. A side
holds one NodeStore per update bank (registers or RAM, see storage.py):

    edge phase  cycle A: read bank word `addr` (all banks), register (valid, bank, addr, value)
                cycle B: new = old + value (wraps at the accumulator width), write it back.
                The next edge's read (issued in cycle B) cannot see that write yet, so cycle B
                forwards the previous write when (bank, addr) match: read-after-write forwarding.
    update phase every bank reads word `rd_addr`; `rd_data[u]` follows one cycle later; with
                `clear` the same word is written 0 (the read returns the old sum).

Wrap-around addition is associative, so the partial sums of every lane and
side add up to the exact KCL sum whatever the order (numeric contract).
"""

from __future__ import annotations

from amaranth.hdl import Array, Elaboratable, Module, Mux, Signal, unsigned

from kgen.quant import Storage

from .storage import NodeStore


class AccumulatorSide(Elaboratable):
    def __init__(self, width: int, units: int, depth: int, storage: Storage, name: str = "acc"):
        self.width, self.units, self.depth = int(width), int(units), int(depth)
        self.name = name
        self.banks = [NodeStore(unsigned(width), depth, storage, f"{name}_b{u}") for u in range(units)]
        self._rd = [b.read_port() for b in self.banks]
        self._wr = [b.write_port() for b in self.banks]
        abits = self.banks[0].addr_bits
        bbits = max(1, (units - 1).bit_length())
        # edge phase input (cycle A)
        self.in_valid = Signal(name=f"{name}_in_valid")
        self.in_bank = Signal(bbits, name=f"{name}_in_bank")
        self.in_addr = Signal(abits, name=f"{name}_in_addr")
        self.in_value = Signal(unsigned(width), name=f"{name}_in_value")  # two's complement bits
        # update phase
        self.update = Signal(name=f"{name}_update")  # 1: the update/clear phase owns the banks
        self.rd_addr = Signal(abits, name=f"{name}_rd_addr")
        self.clear = Signal(name=f"{name}_clear")
        self.rd_data = [Signal(unsigned(width), name=f"{name}_rd{u}") for u in range(units)]

    def elaborate(self, platform):
        m = Module()
        for u, bank in enumerate(self.banks):
            m.submodules[f"bank{u}"] = bank
        b_valid = Signal(name=f"{self.name}_b_valid")
        b_bank = Signal.like(self.in_bank, name=f"{self.name}_b_bank")
        b_addr = Signal.like(self.in_addr, name=f"{self.name}_b_addr")
        b_value = Signal.like(self.in_value, name=f"{self.name}_b_value")
        m.d.sync += [b_valid.eq(self.in_valid & ~self.update), b_bank.eq(self.in_bank), b_addr.eq(self.in_addr),
                     b_value.eq(self.in_value)]
        last_valid = Signal(name=f"{self.name}_last_valid")
        last_bank = Signal.like(self.in_bank, name=f"{self.name}_last_bank")
        last_addr = Signal.like(self.in_addr, name=f"{self.name}_last_addr")
        last_data = Signal(unsigned(self.width), name=f"{self.name}_last_data")
        stored = Array(p.data for p in self._rd)[b_bank] if self.units > 1 else self._rd[0].data
        fwd = last_valid & (last_bank == b_bank) & (last_addr == b_addr)
        new = Signal(unsigned(self.width), name=f"{self.name}_new")
        m.d.comb += new.eq(Mux(fwd, last_data, stored) + b_value)  # truncation = wrap-around
        m.d.sync += [last_valid.eq(b_valid), last_bank.eq(b_bank), last_addr.eq(b_addr), last_data.eq(new)]
        for u in range(self.units):
            rd, wr = self._rd[u], self._wr[u]
            m.d.comb += [rd.addr.eq(Mux(self.update, self.rd_addr, self.in_addr)), self.rd_data[u].eq(rd.data)]
            with m.If(self.update):
                m.d.comb += [wr.addr.eq(self.rd_addr), wr.data.eq(0), wr.en.eq(self.clear)]
            with m.Else():
                m.d.comb += [wr.addr.eq(b_addr), wr.data.eq(new), wr.en.eq(b_valid & (b_bank == u))]
        return m

"""NodeStore: a node-indexed word store with synchronous read ports and one write port.

Two back ends with identical timing, so the pipeline and the cycle formula do
not depend on the choice: flip-flops (small N; every read port is a mux) or
an `amaranth.lib.memory.Memory` (large N; block RAM). A read port returns
the word addressed in the previous cycle; a read and a write of the same
address in one cycle return the old word (read-before-write, as a
non-transparent RAM port), which is what the accumulators' forwarding
expects.
"""

from __future__ import annotations

from amaranth.hdl import Array, Elaboratable, Module, Signal
from amaranth.lib.memory import Memory

from kgen.quant import Storage


class ReadPort:
    def __init__(self, addr_bits: int, shape, name: str):
        self.addr = Signal(addr_bits, name=f"{name}_addr")
        self.data = Signal(shape, name=f"{name}_data")


class WritePort:
    def __init__(self, addr_bits: int, shape, name: str):
        self.addr = Signal(addr_bits, name=f"{name}_addr")
        self.data = Signal(shape, name=f"{name}_data")
        self.en = Signal(name=f"{name}_en")


class NodeStore(Elaboratable):
    def __init__(self, shape, depth: int, storage: Storage, name: str = "store", init=None):
        if storage is Storage.AUTO:
            raise ValueError("resolve Storage.AUTO before building a NodeStore")
        self.shape = shape
        self.depth = int(depth)
        self.storage = storage
        self.name = name
        self.init = list(init) if init is not None else None
        self.addr_bits = max(1, (self.depth - 1).bit_length())
        self._reads: list[ReadPort] = []
        self._write: WritePort | None = None

    def read_port(self) -> ReadPort:
        port = ReadPort(self.addr_bits, self.shape, f"{self.name}_r{len(self._reads)}")
        self._reads.append(port)
        return port

    def write_port(self) -> WritePort:
        if self._write is not None:
            raise ValueError(f"{self.name} has one write port")
        self._write = WritePort(self.addr_bits, self.shape, f"{self.name}_w")
        return self._write

    def elaborate(self, platform):
        m = Module()
        if self.storage is Storage.RAM:
            mem = Memory(shape=self.shape, depth=self.depth, init=self.init or [])
            m.submodules.mem = mem
            for port in self._reads:
                rp = mem.read_port()
                m.d.comb += [rp.addr.eq(port.addr), port.data.eq(rp.data)]
            if self._write is not None:
                wp = mem.write_port()
                m.d.comb += [wp.addr.eq(self._write.addr), wp.data.eq(self._write.data),
                             wp.en.eq(self._write.en)]
            return m
        init = self.init or [0] * self.depth
        regs = Array(Signal(self.shape, init=init[i], name=f"{self.name}_{i}") for i in range(self.depth))
        for port in self._reads:  # addresses beyond depth are never issued
            m.d.sync += port.data.eq(regs[port.addr])
        if self._write is not None:
            wp = self._write
            with m.If(wp.en):
                for i in range(self.depth):
                    with m.If(wp.addr == i):
                        m.d.sync += regs[i].eq(wp.data)
        return m

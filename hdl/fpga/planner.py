"""`kgen fpga plan MODEL --device D [--latency-us X] [--plot FILE]`: the configuration that fits, from the cost model.

Every lane count (powers of two up to the widest window) and update-unit
count (powers of two up to the nodes; both within kgen.quant's MAX_LANES and MAX_UNITS) is costed by the
analytic model (cost.py) with the model's formats (those `kgen quantize`
chose to meet the accuracy target), its cycles taken from the plan and its
latency at the device's closing clock (the clock the suite holds the twin to
after place and route: up5k 24 MHz, ECP5 50 MHz). The plan picks, among the
configurations within every resource of the device, the one with the
fewest LUTs that meets --latency-us (without it: the fastest that fits), or
says what stops it: the resource and shortfall of the smallest
configuration, or the latency of the fastest one that fits against the
target.

Parameters live on chip (block RAM, ROM images in the bitstream). When they
exceed a device's block RAM the plan says so for every known device and
gives the external-memory bandwidth a streamed design would need: every
Euler step reads every edge's parameter word once, so bits per inference
are sum_w steps_w E_w word_bits, divided by the latency.
"""

from __future__ import annotations

from dataclasses import dataclass

from kgen.errors import InputError, expected_found

from kgen.quant import MAX_LANES, MAX_UNITS

from ..plan import HdlConfig, Plan, make_plan
from .cost import CostEstimate, estimate
from .devices import DEVICES, Device, Resource, device as find_device

RESOURCES = (Resource.LUT, Resource.FF, Resource.DSP, Resource.BRAM)


@dataclass(frozen=True)
class Candidate:
    lanes: int
    units: int
    cost: CostEstimate
    over: tuple[tuple[Resource, int, int], ...]  # (resource, needed, available) beyond the device
    latency_us: float

    @property
    def fits(self) -> bool:
        return not self.over


@dataclass(frozen=True)
class MemoryVerdict:
    parameter_bits: int  # the parameter ROMs' bits (every edge's word, every window)
    on_chip: dict  # device name -> (fits, block RAM bits)
    bits_per_inference: int  # parameter bits a streamed design reads per inference

    def bandwidth_gbps(self, latency_us: float) -> float:
        return self.bits_per_inference / (latency_us * 1e-6) / 1e9


@dataclass(frozen=True)
class FpgaPlan:
    model: str
    device: Device
    clock_mhz: float
    latency_target_us: float | None
    candidates: tuple[Candidate, ...]
    choice: Candidate | None
    reason: str  # why this choice, or what stops every configuration
    memory: MemoryVerdict

    def as_dict(self) -> dict:
        def cand(c: Candidate) -> dict:
            return {"lanes": c.lanes, "units": c.units, "fits": c.fits, "latency_us": c.latency_us,
                    "cycles": c.cost.cycles,
                    "resources": {r.value: {"used": c.cost.used()[r], "available": self.device.available(r)}
                                  for r in RESOURCES},
                    "over": {r.value: {"needed": n, "available": a} for r, n, a in c.over}}
        mem = self.memory
        target = self.latency_target_us or (self.choice.latency_us if self.choice else None)
        return {"model": self.model, "device": self.device.name, "clock_mhz": self.clock_mhz,
                "latency_target_us": self.latency_target_us,
                "choice": None if self.choice is None else cand(self.choice), "reason": self.reason,
                "memory": {"parameter_bits": mem.parameter_bits,
                           "on_chip": {d: {"fits": f, "block_ram_bits": b} for d, (f, b) in mem.on_chip.items()},
                           "bits_per_inference": mem.bits_per_inference,
                           "streamed_bandwidth_gbit_s": None if target is None else mem.bandwidth_gbps(target),
                           "at_latency_us": target},
                "candidates": [cand(c) for c in self.candidates]}

    def lines(self) -> list[str]:
        d = self.device
        out = [f"{self.model} on {d.name} ({d.part}), the twin at {self.clock_mhz:g} MHz"
               + (f", latency target {self.latency_target_us:g} us" if self.latency_target_us else "")]
        out.append("   L   U   LUT      FF      DSP   BRAM   cycles      latency us   fits")
        for c in self.candidates:
            u = c.cost.used()
            mark = "yes" if c.fits else "no: " + ", ".join(f"{r.value} {n}/{a}" for r, n, a in c.over)
            star = "*" if c is self.choice else " "
            out.append(f" {star}{c.lanes:>3} {c.units:>3}   {u[Resource.LUT]:<8} {u[Resource.FF]:<7} "
                       f"{u[Resource.DSP]:<5} {u[Resource.BRAM]:<6} {c.cost.cycles:<11,} {c.latency_us:<12,.1f} {mark}")
        out.append(("  choice: " if self.choice else "  no configuration: ") + self.reason)
        mem = self.memory
        fits = [n for n, (f, _) in mem.on_chip.items() if f]
        out.append(f"  parameters: {mem.parameter_bits:,} bits; on chip in "
                   + (", ".join(fits) if fits else "no known device") + "")
        if not mem.on_chip[d.name][0]:
            target = self.latency_target_us or (self.choice.latency_us if self.choice else None)
            if target is not None:
                out.append(f"  streamed from external memory: {mem.bits_per_inference:,} bits per inference, "
                           f"{mem.bandwidth_gbps(target):,.2f} Gbit/s at {target:g} us")
        return out


def _powers(limit: int, cap: int | None = None) -> list[int]:
    out, k = [], 1
    while k <= max(1, limit) and (cap is None or k <= cap):
        out.append(k)
        k *= 2
    return out


def memory_verdict(plan: Plan) -> MemoryVerdict:
    p = plan.program
    bits = plan.word_bits * sum(w.n_edges for w in p.windows)
    per_inference = plan.word_bits * sum(w.steps * w.n_edges for w in p.windows)
    on_chip = {}
    for name, dev in DEVICES.items():
        ram = dev.available(Resource.BRAM) * dev.bram_kbit * 1024
        on_chip[name] = (bits <= ram, ram)
    return MemoryVerdict(bits, on_chip, per_inference)


def check_latency(x) -> float | None:
    if x is None:
        return None
    if not (isinstance(x, (int, float)) and x > 0):
        raise InputError(expected_found("--latency-us", "a latency in microseconds > 0", str(x)))
    return float(x)


def fpga_plan(model, device_name: str, twin=None, latency_us: float | None = None) -> FpgaPlan:
    from ..source import hdl_config
    from ..target import VerilogOptions
    from kgen.emulation.views import program_of

    dev = find_device(device_name)
    target = check_latency(latency_us)
    options = twin if twin is not None else VerilogOptions()
    program = program_of(model, options)
    base = hdl_config(model, 1, 1, options.storage, debug=True)
    widest = max(w.n_edges for w in program.windows)
    cands = []
    for units in _powers(program.n_nodes, MAX_UNITS):
        for lanes in _powers(widest, MAX_LANES):
            plan = make_plan(program, HdlConfig(lanes, units, base.storage, True), images=False)
            cost = estimate(plan, dev.family)
            used = cost.used()
            over = tuple((r, used[r], dev.available(r)) for r in RESOURCES if used[r] > dev.available(r))
            cands.append(Candidate(lanes, units, cost, over, cost.cycles / dev.default_mhz))
    fitting = [c for c in cands if c.fits]
    memory = memory_verdict(make_plan(program, base, images=False))
    choice, reason = None, ""
    if not fitting:
        smallest = min(cands, key=lambda c: c.cost.lut)
        reason = (f"even L={smallest.lanes} U={smallest.units} needs "
                  + ", ".join(f"{n:,} {r.label} of {a:,} ({n - a:,} over)" for r, n, a in smallest.over))
    else:
        fastest = min(fitting, key=lambda c: (c.latency_us, c.cost.lut))
        if target is None:
            choice, reason = fastest, f"L={fastest.lanes} U={fastest.units}, the fastest that fits"
        else:
            meeting = [c for c in fitting if c.latency_us <= target]
            if meeting:
                choice = min(meeting, key=lambda c: (c.cost.lut, c.latency_us))
                reason = (f"L={choice.lanes} U={choice.units}, the fewest LUTs within {target:g} us "
                          f"({choice.latency_us:,.1f} us)")
            else:
                reason = (f"the fastest that fits, L={fastest.lanes} U={fastest.units}, takes "
                          f"{fastest.latency_us:,.1f} us against {target:g} us ({fastest.latency_us / target:.2f}x)")
    return FpgaPlan(program.name, dev, dev.default_mhz, target, tuple(cands), choice, reason, memory)


def pareto_plot(plan: FpgaPlan, path) -> None:
    """Latency against LUTs over the candidates, the Pareto front drawn, the device's LUTs marked."""
    from kgen.figures import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    lut = [c.cost.lut for c in plan.candidates]
    lat = [c.latency_us for c in plan.candidates]
    colors = ["tab:blue" if c.fits else "tab:gray" for c in plan.candidates]
    ax.scatter(lut, lat, c=colors, s=28, zorder=3)
    for c in plan.candidates:
        ax.annotate(f"L{c.lanes} U{c.units}", (c.cost.lut, c.latency_us), fontsize=6, xytext=(3, 3),
                    textcoords="offset points")
    front, best = [], float("inf")
    for c in sorted(plan.candidates, key=lambda c: (c.cost.lut, c.latency_us)):
        if c.latency_us < best:
            front.append(c)
            best = c.latency_us
    ax.plot([c.cost.lut for c in front], [c.latency_us for c in front], "-", color="tab:orange", lw=1,
            label="Pareto front", zorder=2)
    ax.axvline(plan.device.available(Resource.LUT), color="tab:red", ls="--", lw=1,
               label=f"{plan.device.name}: {plan.device.available(Resource.LUT):,} LUTs")
    if plan.latency_target_us:
        ax.axhline(plan.latency_target_us, color="tab:green", ls=":", lw=1, label="latency target")
    if plan.choice is not None:
        ax.scatter([plan.choice.cost.lut], [plan.choice.latency_us], marker="*", s=160, color="tab:green",
                   zorder=4, label="choice")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("LUTs (cost model)")
    ax.set_ylabel(f"latency per inference, us (at {plan.clock_mhz:g} MHz)")
    ax.set_title(f"{plan.model} on {plan.device.name}: lanes x update units (gray: does not fit)", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path)

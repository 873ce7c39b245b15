"""RTL benchmark: cycles per inference (formula and measured) and simulation speed per simulator.

For the twomoon checkpoint (if ../shared is present), the mixed 3-window
circuit and the 2,592-edge neighbor circuit, at several lane counts: the
plan's cycle formula, the core's measured cycles, and simulated clock cycles
per second of the standalone Verilog bench on Icarus and Verilator and of
the cocotb bench on Icarus, with ratios against the standalone Icarus run.
The bit-exact NumPy model runs the same inputs in the same process as the
baseline the RTL must match (inferences per second).

    .venv/bin/python bench/rtl.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from kgen.quant import QuantConfig
from kgen.emulation.interp import Emulator
from kgen.emulation.lower import lower
from kgen.hdl.cases import mixed_circuit, neighbor_circuit
from kgen.hdl.plan import HdlConfig, make_plan
from kgen.hdl.runner import BenchOptions, run_bench
from kgen.hdl.testbench import run_standalone
from kgen.hdl.tools import Sim
from kgen.hdl.verify import expected

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "kirchhoffnet" / "twomoon"


def cases(quick: bool):
    out = []
    if REFERENCE.is_dir():
        from kgen.modelfile import load_model

        out.append(("twomoon", load_model(REFERENCE).circuit, (20, 20), (1, 4, 16), 4))
    out.append(("mixed", mixed_circuit(), (20, 20, 20), (1, 4, 16), 4))
    out.append(("neighbor8", neighbor_circuit(), (10, 10), (4, 16) if quick else (1, 4, 16), 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer lane counts on the large circuit")
    a = ap.parse_args()
    sims = [s for s in (Sim.ICARUS, Sim.VERILATOR) if s.tool.missing() is None]
    print("circuit     L  E_w      N  cyc/step(formula)  cyc/inference  measured  model inf/s  "
          + "  ".join(f"{s.value:>9} cyc/s" for s in sims) + "  cocotb-icarus cyc/s  verilator/icarus")
    for name, circuit, steps, lanes_list, batch in cases(a.quick):
        program = lower(circuit, QuantConfig(steps=steps))
        x = np.random.default_rng(0).standard_normal((batch, len(program.inputs)))
        em = Emulator(program)
        t0 = time.perf_counter()
        em.run(x)
        model_rate = batch / (time.perf_counter() - t0)
        for lanes in lanes_list:
            plan = make_plan(program, HdlConfig(lanes=lanes, debug=False))
            x0, want, _ = expected(program, x, False)
            rates, measured = {}, None
            for sim in sims:
                res = run_standalone(plan, x0, sim)
                assert np.array_equal(res.outputs, want), f"{name} L={lanes} {sim.value}: RTL != model"
                measured = int(res.cycles[0])
                rates[sim] = res.cycles_per_second
            coco = float("nan")
            if Sim.ICARUS in sims:
                b = run_bench(make_plan(program, HdlConfig(lanes=lanes)), x0[:1], want[:1],
                              BenchOptions(Sim.ICARUS, stall=0.0))
                coco = b.cycles_per_second
            ratio = (rates.get(Sim.VERILATOR, float("nan")) / rates[Sim.ICARUS]) if Sim.ICARUS in rates else float("nan")
            edges = "/".join(str(w.n_edges) for w in program.windows)
            print(f"{name:<10} {lanes:>2}  {edges:<8} {program.n_nodes:>3}  "
                  f"{'/'.join(str(plan.step_cycles(i)) for i in range(len(plan.slots))):<18} "
                  f"{plan.run_cycles():>13}  {measured:>8}  {model_rate:>11.1f}  "
                  + "  ".join(f"{rates[s]:>15,.0f}" for s in sims) + f"  {coco:>19,.0f}  {ratio:>16.1f}",
                  flush=True)


if __name__ == "__main__":
    main()

"""The analytic cost model and `kgen fpga plan` (no FPGA tools run here).

The model is held to Yosys's figures for the board design: within 25 % on
LUT, FF, DSP and block RAM for the twomoon twin at L = 1, 4, 16 on iCE40 and
ECP5 and for the five-kind example circuit at L = 1, 4 (fpga_cost_measured.json:
Yosys 0.23's figures, written by `bench/fpga_cost.py --json`, which measures
them again; the L = 1 twomoon design is also synthesized by every board build
in test_fpga_build.py and held to its baselines there). Its cycles are the
plan's, which a simulation of the core counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kgen.cli import main
from kgen.hdl.fpga.cost import FACTORS, bram_blocks, estimate, multiplier
from kgen.hdl.fpga.devices import DEVICES, Family, Resource

MEASURED = json.loads(Path(__file__).with_name("fpga_cost_measured.json").read_text())
KEYS = sorted(k for k in MEASURED if not k.startswith("_"))
RESOURCES = (Resource.LUT, Resource.FF, Resource.DSP, Resource.BRAM)


@pytest.fixture(scope="module")
def models(reference, tmp_path_factory):
    """The twomoon checkpoint quantized as the board tests do (dt 0.005), and the bundled example."""
    from kgen.examples import demo_circuit
    from kgen.modelfile import Model, load_model

    path = tmp_path_factory.mktemp("cost") / "twomoon.kgen"
    assert main(["quantize", str(reference / "twomoon"), "-o", str(path), "--samples", "200", "--ref-samples", "32",
                 "--eval-samples", "32", "--no-table", "--dt", "0.005"]) == 0
    return {"twomoon": load_model(path), "example": Model(demo_circuit())}


def plan_for(models, name: str, lanes: int, units: int = 1):
    from kgen.hdl.source import twin_plan
    from kgen.hdl.target import VerilogOptions

    steps = None if name == "twomoon" else 4
    return twin_plan(models[name], VerilogOptions(lanes=lanes, units=units, steps=steps), debug=True)


def test_multipliers_split_as_mul2dsp_does():
    ice, ecp = FACTORS[Family.ICE40], FACTORS[Family.ECP5]
    assert multiplier(ice, 16, 16, 32) == (1, 0)  # one SB_MAC16
    assert multiplier(ice, 32, 16, 48)[0] == 2  # A cut into 16 + 16
    assert multiplier(ice, 17, 16, 33) == (1, 16 + 1 * (17 + 16))  # the 1-bit chunk in LUTs, one adder
    assert multiplier(ice, 8, 2, 10) == (0, 16)  # a product under 11 bits stays in LUTs on iCE40
    assert multiplier(ecp, 18, 18, 36) == (1, 0) and multiplier(ecp, 22, 13, 35)[0] == 2


def test_block_ram_is_the_cheapest_tiling():
    ice, ecp = FACTORS[Family.ICE40], FACTORS[Family.ECP5]
    assert bram_blocks(ice, 44, 1024) == 11  # 1024 x 4 per SB_RAM40_4K: ceil(44 / 4)
    assert bram_blocks(ice, 16, 256) == 1
    assert bram_blocks(ecp, 44, 1024) == 3  # 1024 x 18 per DP16KD
    assert bram_blocks(ice, 8, 8) == 0  # under MIN_BRAM_BITS: logic


@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_cost_model_within_25_percent_of_yosys(models, key):
    name, fam, lanes = key.split("/")
    got = MEASURED[key]
    est = estimate(plan_for(models, name, int(lanes[1:])), Family(fam)).used()
    for r in RESOURCES:
        y = got[r.value]
        assert abs(est[r] - y) <= 0.25 * y, f"{key} {r.value}: model {est[r]} against Yosys {y}"


def test_cycles_are_the_plan_the_simulated_core_counts():
    pytest.importorskip("amaranth")
    from test_hdl_core import simulate_core

    from kgen.emulation.lower import lower
    from kgen.hdl.cases import ALL_KINDS, mixed_circuit
    from kgen.hdl.plan import HdlConfig, make_plan
    from kgen.hdl.verify import expected
    from kgen.quant import QuantConfig

    program = lower(mixed_circuit(kinds=ALL_KINDS), QuantConfig(steps=(3, 2, 3)))
    plan = make_plan(program, HdlConfig(lanes=2, units=2))
    x0, _, _ = expected(program, np.random.default_rng(0).standard_normal((1, len(program.inputs))), trace=True)
    (_, cycles, _), = simulate_core(plan, x0)
    assert estimate(plan, Family.ICE40).cycles == cycles == estimate(make_plan(program, HdlConfig(2, 2),
                                                                               images=False), Family.ECP5).cycles


@pytest.mark.slow
def test_plan_picks_what_the_board_build_confirms(models, tmp_path, capsys):
    """Within 3 ms on the UP5K the fewest LUTs are one lane and one unit: the configuration the iCEBreaker
    build (test_fpga_build.py) places and routes at 24 MHz within every resource."""
    from kgen.hdl.fpga.planner import fpga_plan, pareto_plot

    plan = fpga_plan(models["twomoon"], "up5k", latency_us=3000)
    assert (plan.choice.lanes, plan.choice.units) == (1, 1) and plan.choice.fits
    assert plan.choice.latency_us == pytest.approx(plan.choice.cost.cycles / 24.0)
    two = next(c for c in plan.candidates if (c.lanes, c.units) == (2, 1))
    assert {r for r, _, _ in two.over} == {Resource.DSP, Resource.BRAM}  # 2 lanes: 10 DSPs of 8, 36 block RAMs of 30
    fast = fpga_plan(models["twomoon"], "up5k", latency_us=100)
    assert fast.choice is None and "against 100 us" in fast.reason
    out = tmp_path / "pareto.png"
    pareto_plot(plan, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pareto_plot(plan, tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == out.read_bytes()  # deterministic


def test_plan_cli_json_and_bad_latency(tmp_path, capsys):
    demo = tmp_path / "demo.kgen"
    assert main(["example", "-o", str(demo)]) == 0
    capsys.readouterr()
    assert main(["fpga", "plan", str(demo), "--device", "ecp5-85k", "--steps", "4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["device"] == "ecp5-85k" and doc["choice"]["fits"] is True
    assert doc["choice"]["latency_us"] == min(c["latency_us"] for c in doc["candidates"] if c["fits"])
    assert main(["fpga", "plan", str(demo), "--device", "up5k", "--steps", "4", "--latency-us", "-3"]) == 2
    assert capsys.readouterr().err.strip() == ("kgen: error: --latency-us: expected a latency in microseconds > 0, "
                                               "found -3.0")


def test_mnist_plan_states_on_chip_feasibility_and_the_bandwidth(reference, capsys):
    assert main(["fpga", "plan", str(reference / "mnist"), "--device", "ecp5-85k", "--steps", "10",
                 "--latency-us", "1000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    mem = doc["memory"]
    assert set(mem["on_chip"]) == set(DEVICES) and not any(v["fits"] for v in mem["on_chip"].values())
    assert mem["parameter_bits"] > 15e6  # 460,136 edge words of 2 windows
    assert mem["bits_per_inference"] == 10 * mem["parameter_bits"]  # every step reads every word once
    assert mem["streamed_bandwidth_gbit_s"] == pytest.approx(mem["bits_per_inference"] / 1e-3 / 1e9)
    assert doc["choice"] is None and "block RAMs" in doc["reason"]

"""`kgen fpga build MODEL --board B -o DIR`: a board's bitstream, with its report and manifest.

The design is BoardTop (the twin behind the UART host protocol, clocked
through the board's PLL) on the board's amaranth-boards platform; amaranth's
own build plan (its Yosys script, pin constraints and tool script) runs
Yosys, nextpnr and the packer (icepack / ecppack). kgen adds to that plan
only what its report needs: `stat -json` after synthesis, nextpnr's
`--report`, the seed and `--timing-allow-fail` (so an unmet clock is
reported, not a bare failure). The folder written:

    kgen_board.bin | .bit   the bitstream
    report.json, report.txt the same report as `kgen fpga report`
    build/                  amaranth's build files and the tools' logs
    kgen-manifest.json      kgen version, circuit digest, board, seed, every file's hash

Same model, options, board and seed: byte-identical folder (the tools are
deterministic for a seed; amaranth's files name no time or path).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kgen.errors import FitError, ToolError, expected_found

from .boards import Board, board as find_board
from .devices import Family
from .pll import ecp5_pll, ice40_pll
from .report import DEFAULT_BAUD, FpgaReport, assemble, check_freq, check_seed

BITSTREAM = {Family.ICE40: "bin", Family.ECP5: "bit"}
#: build files kept in the folder: amaranth's inputs to the tools and the routed design, all deterministic
#: (the tools' logs carry run times, so they stay out: a folder is byte-identical for the same inputs)
KEPT = (".il", ".v", ".ys", ".pcf", ".lpf", ".py", ".sh", ".asc", ".config")


@dataclass(frozen=True)
class BuildResult:
    board: Board
    report: FpgaReport
    pll_mhz: float  # the twin's clock: the PLL's achieved output
    bitstream: str  # file name in the folder
    sha256: str
    folder: Path


def _tools(family: Family) -> dict:
    """The environment variables amaranth's build script reads, each tool found the kgen way."""
    from ..tools import YOSYS
    from .tools import ECPPACK, ICEPACK, nextpnr

    pack = ICEPACK if family is Family.ICE40 else ECPPACK
    env = {"YOSYS": YOSYS.find(), f"NEXTPNR_{family.value.upper()}": nextpnr(family).find(),
           ("ICEPACK" if family is Family.ICE40 else "ECPPACK"): pack.find()}
    return {k: str(v) for k, v in env.items()}


def _last_error(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors[-1] if errors else (lines[-1] if lines else "no output")).removeprefix("ERROR: ")


def _run_plan(build: Path, script: str, env: dict, stages, progress, timeout: float) -> None:
    """Run amaranth's build script in `build`, advancing the bar as each stage's product appears;
    `stages` = [(file, label, check)]: check(path) runs once the file exists (a FitError stops the build)."""
    log = build / "build.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(["sh", script], cwd=build, env={**os.environ, **env}, stdout=fh,
                                stderr=subprocess.STDOUT)
        t0, pending = time.monotonic(), list(stages)
        try:
            progress.set_postfix_str(pending[0][1])
            while True:
                code = proc.poll()
                while pending and (build / pending[0][0]).is_file() and (code is not None or len(pending) > 1):
                    name, _, check = pending.pop(0)
                    if check is not None:
                        check(build / name)
                    progress.update(1)
                    if pending:
                        progress.set_postfix_str(pending[0][1])
                if code is not None:
                    break
                if time.monotonic() - t0 > timeout:
                    raise ToolError(expected_found("the board build", f"to finish within {timeout:g} s",
                                                   "a timeout"))
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if code != 0 or pending:
        line = _last_error(log)
        if "no BELs remaining" in line or "Unable to place" in line:
            raise FitError(expected_found("the board's device", "a design nextpnr can place", line))
        raise ToolError(expected_found("the board build (yosys, nextpnr, pack)", "exit status 0",
                                       f"{line} (in {pending[0][1] if pending else 'the build'})"))


def fpga_build(model, board_name: str, out, twin=None, freq_mhz: float | None = None, seed: int = 1,
               baud: int = DEFAULT_BAUD, force: bool = False, timeout: float = 3600) -> BuildResult:
    """Build the board's bitstream for the model into folder `out` (see the module docstring)."""
    from kgen import __version__
    from kgen.fsutil import check_replaceable, sha256_hex, write_output_directory
    from kgen.progress import bar

    from ..host_top import BOARD_TOP
    from ..source import twin_plan
    from ..target import VerilogOptions
    from ..uart import divisor_for
    from .board_top import BoardTop
    from .pnr import read_placement
    from .synth import check_fit, read_synthesis
    from .tools import version

    b = find_board(board_name)
    dev = b.device
    want = check_freq(dev.default_mhz if freq_mhz is None else freq_mhz)
    check_seed(seed)
    check_replaceable(Path(out), force)
    pll = (ice40_pll if dev.family is Family.ICE40 else ecp5_pll)(b.clock_mhz, want)
    plan = twin_plan(model, twin if twin is not None else VerilogOptions(), debug=True)
    divisor = divisor_for(pll.out_mhz * 1e6, baud)
    env = _tools(dev.family)  # a missing tool is one line before minutes of work
    platform = b.platform_class()()
    name = BOARD_TOP
    overrides = {"script_after_synth": f"tee -q -o {name}.stat.json stat -json",
                 "nextpnr_opts": f"--seed {seed} --report {name}.nextpnr.json --timing-allow-fail"}
    if dev.family is Family.ICE40:
        overrides["synth_opts"] = "-dsp"
    top = BoardTop(plan, b, pll, divisor)
    build_plan = platform.prepare(top, name=name, emit_src=False, **overrides)
    routed = f"{name}.asc" if dev.family is Family.ICE40 else f"{name}.config"
    bit = f"{name}.{BITSTREAM[dev.family]}"
    results: dict = {}
    yosys_version = version(env["YOSYS"])

    def synthesized(_started: Path) -> None:
        stat = build / f"{name}.stat.json"
        results["synth"] = s = read_synthesis(dev, name, build / f"{name}.json", stat, yosys_version,
                                              time.monotonic() - results["t0"], prefix="host.")
        check_fit(s)  # stops the build before place and route, naming each resource and its shortfall

    with tempfile.TemporaryDirectory(prefix="kgen-fpga-build-") as tmp:
        build = Path(tmp) / "build"
        build_plan.extract(build)
        results["t0"] = time.monotonic()
        with bar(3, f"fpga build {b.name}", "step") as progress:
            _run_plan(build, f"{build_plan.script}.sh", env,
                      # a stage is done when the next tool has started (its log exists)
                      [(f"{name}.tim", "yosys synthesis", synthesized),
                       (f"{name}.nextpnr.json", f"nextpnr-{dev.family.value} place and route", None),
                       (bit, "pack bitstream", None)], progress, timeout)
        t_pnr = time.monotonic() - results["t0"] - results["synth"].seconds
        placed = read_placement(build / f"{name}.nextpnr.json", build / routed, pll.out_mhz, seed,
                                version(env[f"NEXTPNR_{dev.family.value.upper()}"]), t_pnr)
        report = assemble(plan, dev, results["synth"], placed, pll.out_mhz, baud, seed,
                          design=f"{name} on {b.title}: Euler core + UART host protocol, "
                                 f"{pll.out_mhz:g} MHz from the {b.clock_mhz:g} MHz oscillator through the PLL")
        bitstream = (build / bit).read_bytes()
        doc = report.as_dict()
        doc["board"] = {"name": b.name, "title": b.title, "oscillator_mhz": b.clock_mhz, "pll_mhz": pll.out_mhz,
                        "bitstream": bit, "sha256": sha256_hex(bitstream)}
        # timings vary run to run; the folder must not
        doc.pop("seconds", None)
        header = {"kgen_version": __version__, "target": "fpga-build", "circuit": plan.program.name,
                  "digest": plan.program.digest, "board": b.name, "device": dev.part, "seed": seed,
                  "clock_mhz": pll.out_mhz}

        def fill(stage: Path) -> None:
            (stage / bit).write_bytes(bitstream)
            (stage / "report.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
            (stage / "report.txt").write_text("\n".join(report.lines()) + "\n")
            keep = stage / "build"
            keep.mkdir()
            for f in sorted(build.iterdir()):
                if f.suffix in KEPT or f.name.endswith((".stat.json", ".nextpnr.json")):
                    (keep / f.name).write_bytes(f.read_bytes())

        write_output_directory(out, header, fill, force)
    return BuildResult(b, report, pll.out_mhz, bit, sha256_hex(bitstream), Path(out))

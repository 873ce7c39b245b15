"""`kgen flow`: every step on one model, the report as a browser renders it, caching, kills, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from kgen.cli import main
from kgen.flow.spec import STEP_NAMES
from kgen.modelfile import load_model

ALL_VIEWS = ["float", "spice", "veriloga", "fixed", "rtl"]
QUICK_QUANTIZE = "{samples: 100, ref-samples: 16, eval-samples: 16, table-samples: 4, dt: 0.05}"
# The steps the caching and kill tests run: no simulators, so they stay quick.
QUICK_OFF = ("evaluate", "export-veriloga", "verify-spice", "verify-veriloga", "monte-carlo", "verify-rtl",
             "fpga-report")
QUICK_STEPS = [s for s in STEP_NAMES if s not in QUICK_OFF]


def write_flow(folder: Path, off=(), quantize=QUICK_QUANTIZE, samples=2) -> Path:
    model = folder / "m.kgen"
    if not model.exists():
        assert main(["example", "-o", str(model)]) == 0
    steps = "".join(f"  {s}: false\n" for s in off)
    if "monte-carlo" not in off:
        steps += "  monte-carlo: {trials: 3}\n"
    if "fpga-report" not in off:  # the example's five device kinds need 22 multipliers: more than the UP5K's 8;
        steps += "  fpga-report: {device: xc7a35t}\n"  # synthesis only keeps the test short (test_fpga places)
    text = f"model: m.kgen\ninputs: {{samples: {samples}, seed: 3}}\nsteps:\n  quantize: {quantize}\n{steps}"
    path = folder / "flow.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One finished quick flow (its flow file and folder), shared: tests copy the folder before changing it."""
    folder = tmp_path_factory.mktemp("quick")
    path = write_flow(folder, QUICK_OFF)
    out = folder / "out"
    assert main(["flow", str(path), "-o", str(out)]) == 0
    return path, out


def copy_of(out: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "out"
    shutil.copytree(out, dest)
    return dest


def flow(argv, capsys=None):
    rc = main(["flow", *map(str, argv)])
    out, err = capsys.readouterr() if capsys else ("", "")
    return rc, out, err


STEP_LINE = re.compile(r"^\[\s*\d+/\d+\] (\S+)\s+(.*)$")


def _lines(out: str):
    return [m.groups() for m in map(STEP_LINE.match, out.splitlines()) if m]


def ran(out: str) -> list[str]:
    return [name for name, rest in _lines(out) if rest.startswith("done in ")]


def up_to_date(out: str) -> list[str]:
    return [name for name, rest in _lines(out) if rest.startswith("up to date")]


def without_times(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    for s in doc["steps"]:
        s.pop("seconds")
    return doc


class _Dom(HTMLParser):
    """The rendered page's text per element id (tables as rows of cells)."""

    def __init__(self):
        super().__init__()
        self.ids, self.stack, self.rows = {}, [], {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append((tag, a.get("id")))
        if tag == "tr":
            table = next((i for t, i in reversed(self.stack) if t == "table" and i), None)
            if table:
                self.rows.setdefault(table, []).append([])

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, i in self.stack:
            if i:
                self.ids[i] = self.ids.get(i, "") + data
        if any(t in ("td", "th") for t, _ in self.stack[-2:]):
            table = next((i for t, i in reversed(self.stack) if t == "table" and i), None)
            if table and self.rows.get(table) and data.strip():
                self.rows[table][-1].append(data.strip())


def chromium() -> str:
    exe = os.environ.get("KGEN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("chromium: expected on PATH or at $KGEN_CHROMIUM, found none (install: apt-get install -y "
                    "chromium)")
    return exe


@pytest.mark.slow
def test_every_step_every_view_and_the_rendered_report(tmp_path, capsys):
    from kgen.codegen.tools import NGSPICE, OPENVAF, VACASK
    from kgen.hdl.tools import VERILATOR
    from kgen.tools import missing_reason

    reason = missing_reason(NGSPICE, VACASK, OPENVAF, VERILATOR)
    if reason:
        pytest.skip(reason)
    browser = chromium()
    path = write_flow(tmp_path)
    out = tmp_path / "out"
    rc, text, _ = flow([path, "-o", out], capsys)
    assert rc == 0
    assert sorted(ran(text)) == sorted(STEP_NAMES)
    doc = json.loads((out / "report.json").read_text())
    views = {v["view"]: v for v in doc["views"]}
    assert list(views) == ALL_VIEWS
    x = np.load(out / "steps" / "inputs" / "inputs.npy")
    assert doc["inputs"]["values"] == x.tolist()
    assert all(len(v["outputs"]) == len(x) for v in views.values())
    # the contracts: analog within 1e-4 of the float reference, the twin within its bound, the RTL identical
    for v in ("spice", "veriloga"):
        assert views[v]["passed"] and views[v]["max_abs_error"] <= 1e-4
        assert doc["differences"]["float"][v] <= 1e-4
    assert views["fixed"]["passed"] and views["rtl"]["passed"] and views["rtl"]["identical_to_fixed"]
    assert doc["differences"]["fixed"]["rtl"] == 0.0
    assert doc["all_within_contract"] is True
    assert doc["model"]["digest"] == load_model(tmp_path / "m.kgen").digest
    assert doc["fixed_point"]["read"] == str(load_model(out / "steps" / "quantize" / "model.kgen").quant.read)
    assert len(doc["plots"]) == 5
    mc = doc["monte_carlo"]
    assert mc["trials"] == 3 and mc["passed_trials"] == 3 and mc["passed"] and mc["fidelity"]["max"] <= 1e-4
    assert mc["mismatch"]["sigma"] == 0.05 and mc["metric"] == "displacement" and mc["metric_spread"]["min"] > 0
    assert {"ngspice", "vacask", "openvaf", "verilator", "yosys", "torch"} <= set(doc["tools"])
    fpga = doc["fpga"]
    # 7-series: Yosys cell counts only, and the report says so (test_fpga places and routes iCE40 and ECP5)
    assert fpga["device"] == {"name": "xc7a35t", "part": "XC7A35T", "family": "xc7", "placed": False}
    assert fpga["design"]["lanes"] == 1 and fpga["timing"]["fmax_mhz"] is None
    assert fpga["performance"]["latency_us"] is None and fpga["performance"]["cycles_per_inference"] > 0
    assert any("no open place and route" in n for n in fpga["notes"])
    assert 0 < fpga["resources"]["DSP"]["used"] <= 90 and 0 < fpga["resources"]["LUT"]["used"] <= 20800
    assert doc["tools"]["rtl view"].startswith("RTL (verilator, standalone bench")  # the flow's default simulator

    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--dump-dom", (out / "report.html").resolve().as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = _Dom()
    page.feed(dom.stdout)
    assert page.ids["image-check"].strip() == "images loaded: 5 of 5"  # written by the page's script on load
    assert [r[0] for r in page.rows["views"][1:]] == ALL_VIEWS
    assert all("passed" in r for r in page.rows["views"][2:])
    card = dict((r[0], r[1]) for r in page.rows["model-card"] if len(r) == 2)
    assert card["digest"] == doc["model"]["digest"] and card["nodes"] == "6" and card["edges"] == "24"
    assert "Every view is within its contract." in page.ids["verdict"]
    assert page.rows["monte-carlo"][0][0] == "fidelity: each trial vs the float model perturbed alike"
    fpga_rows = dict((r[0], r[1]) for r in page.rows["fpga"] if len(r) == 2)
    assert fpga_rows["DSP"].startswith(f"{fpga['resources']['DSP']['used']} of 90")


def test_second_run_does_nothing_and_a_changed_option_reruns_its_branch(quick, tmp_path, capsys):
    path, finished = quick
    out = copy_of(finished, tmp_path)  # a finished flow's folder, moved: still up to date (keys hold content)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and "logs" not in p.parts}
    rc, text, _ = flow([path, "-o", out], capsys)
    assert rc == 0 and ran(text) == [] and sorted(up_to_date(text)) == sorted(QUICK_STEPS)
    assert len(_lines(text)) == len(QUICK_STEPS)  # one line per step
    assert text.strip().splitlines()[-1].startswith("flow finished: 0 steps ran, 8 up to date")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and "logs" not in p.parts} \
        == first

    # a quantize option: quantize and what reads its model re-run, the float and SPICE branch does not
    changed = tmp_path / "flow.yaml"
    changed.write_text(path.read_text().replace("model: m.kgen", f"model: {path.parent / 'm.kgen'}")
                       .replace("samples: 100", "samples: 120"))
    rc, text, _ = flow([changed, "-o", out], capsys)
    assert rc == 0 and sorted(ran(text)) == ["export-verilog", "fixed", "quantize", "report"]
    assert sorted(up_to_date(text)) == ["export-spice", "float", "inputs", "model"]


def test_a_changed_edge_parameter_reruns_what_is_downstream_of_the_model(tmp_path, capsys):
    path = write_flow(tmp_path, QUICK_OFF + ("quantize", "fixed", "export-verilog"))
    out = tmp_path / "out"
    assert flow([path, "-o", out], capsys)[0] == 0
    before = json.loads((out / "report.json").read_text())
    model = load_model(tmp_path / "m.kgen")
    c = model.circuit
    params = c.windows[0].params.copy()
    params.flat[0] += 0.25  # one parameter of one edge
    import dataclasses

    windows = list(c.windows)
    windows[0] = dataclasses.replace(windows[0], params=params)
    model.replace(circuit=dataclasses.replace(c, windows=tuple(windows))).save(tmp_path / "m.kgen")
    rc, text, _ = flow([path, "-o", out], capsys)
    assert rc == 0
    # inputs re-ran (it reads the model) and wrote the same file: nothing it feeds ran for it
    assert sorted(ran(text)) == ["export-spice", "float", "inputs", "model", "report"]
    after = json.loads((out / "report.json").read_text())
    assert after["model"]["digest"] != before["model"]["digest"]
    assert after["inputs"] == before["inputs"]


def _start(argv, out: Path) -> subprocess.Popen:
    env = {**os.environ, "KGEN_PROGRESS": "0"}
    return subprocess.Popen([sys.executable, "-m", "kgen", "flow", *map(str, argv), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_step(out: Path, step: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    t0 = time.time()
    while not (out / "logs" / f".{step}.log.tmp").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout, f"{step} did not start"
        time.sleep(0.05)
    time.sleep(1.0)  # well inside the step


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_flow_resumes_to_the_same_report(quick, tmp_path, capsys, sig):
    path, reference = quick
    out = tmp_path / "out"
    proc = _start([path], out)
    _wait_for_step(out, "fixed", proc)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    state = json.loads((out / "flow.json").read_text())
    assert "fixed" not in state["steps"] and "report" not in state["steps"]
    assert not (out / "report.json").exists()
    time.sleep(0.5)  # children die with the flow (SIGKILL: through PR_SET_PDEATHSIG)
    rc, text, _ = flow([path, "-o", out], capsys)
    assert rc == 0
    assert "fixed" in ran(text) and "model" in up_to_date(text)
    leftovers = [p for p in out.rglob("*") if p.name.endswith((".tmp", ".old")) or p.name.startswith(".")]
    assert leftovers == []
    # every file the manifest lists is there with its hash; the report is the uninterrupted run's
    from kgen.flow.state import folder_files

    state = json.loads((out / "flow.json").read_text())
    for step, rec in state["steps"].items():
        assert folder_files(out / "steps" / step) == rec["files"], step
    assert without_times(json.loads((out / "report.json").read_text())) == \
        without_times(json.loads((reference / "report.json").read_text()))


@pytest.mark.parametrize("text,message", [
    ("model: m.kgen\nsteps:\n  verify-spice: {tolerance: 1e-4}\n",
     "flow file {f}: steps.verify-spice.tolerance: expected an option of kgen verify --view spice ("),
    ("model: m.kgen\nsteps:\n  synthesize: {}\n",
     "flow file {f}: steps: expected steps among evaluate, float, export-spice, export-veriloga, verify-spice, "
     "verify-veriloga, monte-carlo, quantize, fixed, export-verilog, verify-rtl, fpga-report, found 'synthesize'"),
    ("model: m.kgen\ninputz: {samples: 3}\n",
     "flow file {f}: inputz: expected one of model, inputs, steps, found unknown key 'inputz'"),
    ("model: m.kgen\ninputs: {samples: 0}\n", "flow file {f}: inputs.samples: expected a count in 1..100000, found 0"),
    ("model: missing.kgen\n", "flow file {f}: model: expected an existing file or folder, found nothing at {d}/missing.kgen"),
    ("model: {train: {task: twomoon, iters: 3}}\n",
     "flow file {f}: model.train.iters: expected an option of kgen train ("),
    ("model: m.kgen\nsteps:\n  quantize: false\n",
     "flow file {f}: steps.fixed: expected its inputs from quantize, found quantize turned off (turn fixed off too)"),
    ("steps: [1, 2\n", "flow file {f}: expected YAML, found "),
], ids=["unknown-option", "unknown-step", "unknown-key", "bad-samples", "missing-model", "train-option",
        "needs-off-step", "not-yaml"])
def test_bad_flow_files_are_one_line_and_lose_nothing(quick, tmp_path, capsys, text, message):
    out = copy_of(quick[1], tmp_path)
    path = tmp_path / "flow.yaml"
    (tmp_path / "m.kgen").write_bytes((quick[0].parent / "m.kgen").read_bytes())
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    path.write_text(text)
    rc, _, err = flow([path, "-o", out], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kgen: error: " + message.format(f=path, d=tmp_path)), err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_missing_tool_stops_before_anything_runs(tmp_path, capsys, monkeypatch):
    path = write_flow(tmp_path, ("evaluate", "verify-veriloga", "verify-rtl"))
    monkeypatch.setenv("KGEN_NGSPICE", str(tmp_path / "no-ngspice"))
    rc, _, err = flow([path, "-o", tmp_path / "out"], capsys)
    assert rc == 2
    assert err.strip() == (f"kgen: error: step verify-spice: ngspice (KGEN_NGSPICE={tmp_path / 'no-ngspice'}): "
                           "expected an executable file, found none (unset it or install: apt-get install -y ngspice)")
    assert not (tmp_path / "out").exists()


def test_only_and_from_select_steps(quick, tmp_path, capsys):
    path, finished = quick
    rc, _, err = flow([path, "-o", tmp_path / "new", "--only", "quantize"], capsys)
    assert rc == 2 and "an earlier run of this flow" in err
    out = copy_of(finished, tmp_path)
    rc, text, _ = flow([path, "-o", out, "--only", "quantize,fixed", "--force"], capsys)
    assert rc == 0 and sorted(ran(text)) == ["fixed", "quantize"]
    rc, text, _ = flow([path, "-o", out, "--from", "export-verilog", "--force"], capsys)
    assert rc == 0 and sorted(ran(text)) == ["export-verilog", "report"]
    rc, _, err = flow([path, "-o", out, "--only", "verify-spice"], capsys)
    assert rc == 2 and err.strip() == "kgen: error: step verify-spice: expected a step this flow runs, found one " \
                                      "its flow file turns off"


def test_a_failed_step_names_its_log_and_keeps_the_finished_ones(tmp_path, capsys):
    path = write_flow(tmp_path, QUICK_OFF, quantize="{samples: 100, ref-samples: 16, dt: 5}")
    out = tmp_path / "out"
    rc, text, err = flow([path, "-o", out], capsys)
    assert rc == 2
    line = err.strip()
    assert line.startswith("kgen: error: step quantize failed (exit 2): --dt: expected at most the stability bound")
    assert line.endswith(f"; log: {out / 'logs' / 'quantize.log'}")
    assert (out / "logs" / "quantize.log").exists()
    state = json.loads((out / "flow.json").read_text())
    assert {"model", "inputs"} <= set(state["steps"]) and "quantize" not in state["steps"]
    assert not (out / "steps" / "quantize").exists()


def test_a_folder_that_is_not_a_flows_is_refused(tmp_path, capsys):
    path = write_flow(tmp_path, QUICK_OFF)
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    rc, _, err = flow([path, "-o", out], capsys)
    assert rc == 2 and err.strip() == (f"kgen: error: output directory {out}: expected an empty folder or an "
                                       "earlier kgen flow's, found mine.txt, which kgen flow did not write")
    assert (out / "mine.txt").read_text() == "keep me"

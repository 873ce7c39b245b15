"""Running the flow: steps in dependency order, independent ones side by side, each cached by its key.

Each step runs in a fresh folder beside its final one (`OUT/steps/.NAME.*.tmp`) that replaces
`OUT/steps/NAME` in one rename when every command succeeded, so a killed or failed step leaves
the previous result (or nothing), never half of one. Its commands are child processes of this
one (they die with it: PR_SET_PDEATHSIG) writing their output to `OUT/logs/NAME.log`. The first
failure stops the flow: no new step starts, the running ones finish, the error names the log.

Why our own small manifest and not doit or snakemake: a step's inputs are other steps' folders
and its options a flow file's mapping, a 60-line content-hash manifest covers exactly that, and
the steps stay plain `kgen` commands a user can replay from the log.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from kgen.errors import CheckFailed, InputError, KgenError, ToolError, expected_found
from kgen.fsutil import atomic_write_bytes, os_errors, staged_directory

from .spec import STEP_NAMES, FlowSpec
from .state import MANIFEST, FlowState, StepRecord, file_sha, folder_files, step_key
from .steps import INPUTS_FILE, MODEL_FILE, STEPS, Command, Context, check_options, graph, tool


class StepFailed(KgenError):
    """A step's command failed; the message names its log."""


class StepCheckFailed(CheckFailed):
    """A step's check (a verify) found a difference: exit 1 like the command itself."""


@dataclass(frozen=True)
class FlowOptions:
    only: tuple[str, ...] = ()
    start: str | None = None  # --from
    force: bool = False
    jobs: int = 2


@dataclass(frozen=True)
class StepOutcome:
    name: str
    ran: bool
    seconds: float
    applies: bool


def selection(spec: FlowSpec, deps: dict, opts: FlowOptions) -> list[str]:
    """The steps this run may execute, in flow order."""
    for name in (*opts.only, *((opts.start,) if opts.start else ())):
        if name not in STEP_NAMES:
            raise InputError(expected_found("--only" if name in opts.only else "--from",
                                            "steps among " + ", ".join(STEP_NAMES), repr(name)))
        if name not in deps:
            raise InputError(expected_found(f"step {name}", "a step this flow runs", "one its flow file turns off"))
    order = [s for s in STEP_NAMES if s in deps]
    if opts.only and opts.start:
        raise InputError(expected_found("--only / --from", "one of them", "both"))
    if opts.only:
        return [s for s in order if s in opts.only]
    if opts.start:
        return order[order.index(opts.start):]
    return order


def check_tools(spec: FlowSpec, names) -> None:
    for name in names:
        for path in STEPS[name].tools_for(spec):
            missing = tool(path).missing()
            if missing:
                raise ToolError(f"step {name}: {missing}")


def prepare_output(out: Path) -> None:
    """OUT is new, empty or an earlier flow's; leftovers of a killed run are removed."""
    with os_errors(out, "output directory"):
        if out.exists() and not out.is_dir():
            raise InputError(expected_found(f"output directory {out}", "a folder", "a file"))
        if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).exists() and not (out / "steps").is_dir():
            first = sorted(p.name for p in out.iterdir())[0]
            raise InputError(expected_found(f"output directory {out}", "an empty folder or an earlier kgen flow's",
                                            f"{first}, which kgen flow did not write"))
        for sub in ("steps", "logs"):
            (out / sub).mkdir(parents=True, exist_ok=True)
            for p in (out / sub).iterdir():
                if p.name.startswith(".") and (p.name.endswith(".tmp") or p.name.endswith(".old")):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Engine:
    def __init__(self, spec: FlowSpec, out: Path, opts: FlowOptions, say: Callable[[str], None],
                 parser_for: Callable[[str], object]):
        self.spec, self.out, self.opts = spec, out, opts
        self._say_lock = threading.Lock()

        def said(msg: str) -> None:  # steps finish on worker threads: one whole line at a time
            with self._say_lock:
                say(msg)
        self.say = said
        check_options(spec, parser_for)
        self.deps = graph(spec)
        self.selected = selection(spec, self.deps, opts)
        self.state = FlowState(out) if (out / MANIFEST).exists() else None
        self.children: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = False
        self.outcomes: dict[str, StepOutcome] = {}

    # -- keys ------------------------------------------------------------------------------------
    def folder(self, name: str) -> Path:
        return self.out / "steps" / name

    def key(self, name: str) -> str:
        sources = {}
        if name == "model":
            for p in self.spec.model.source_files():
                sources[str(p)] = file_sha(p)
        if name == "inputs" and self.spec.inputs.file is not None:
            sources[str(self.spec.inputs.file)] = file_sha(self.spec.inputs.file)
        if name == "report":
            from .report import TEMPLATE_FILES

            sources.update({str(k): v for k, v in TEMPLATE_FILES().items()})
        opts = {"options": STEPS[name].options(self.spec), "inputs": vars(self.spec.inputs) if name == "inputs"
                else None, "model": repr(self.spec.model.train) if name == "model" else None,
                "source": self.spec.model.source.value if name == "model" else None}
        upstream = {d: self.state.steps[d].output_hash for d in self.deps[name]}
        return step_key(name, opts, sources, upstream)

    # -- one step --------------------------------------------------------------------------------
    def run_step(self, name: str, index: int, total: int) -> StepOutcome:
        key = self.key(name)
        folder = self.folder(name)
        label = f"[{index:>2}/{total}] {name:<16}"
        if name not in self.selected:
            if not self.state.up_to_date(name, key, folder):
                raise InputError(expected_found(f"step {name}", "an up-to-date result (the selected steps need "
                                                "it)", "none: run it too, or run without --only/--from"))
            return StepOutcome(name, False, 0.0, self.state.steps[name].applies)
        if not self.opts.force and self.state.up_to_date(name, key, folder):
            rec = self.state.steps[name]
            self.say(f"{label} up to date" + ("" if rec.applies else " (nothing to do for this model)"))
            return StepOutcome(name, False, 0.0, rec.applies)
        t0 = time.perf_counter()
        self.say(f"{label} running: {STEPS[name].what}")
        log_final = self.out / "logs" / f"{name}.log"
        log_tmp = self.out / "logs" / f".{name}.log.tmp"
        commands: list[str] = []
        applies = True
        try:
            with open(log_tmp, "w", encoding="utf-8") as log, staged_directory(folder) as stage:
                upstream = {d: self.folder(d) for d in self.deps[name]}
                ctx = Context(self.spec, stage, upstream)
                if name == "inputs":
                    self._inputs(ctx, log)
                elif name == "report":
                    from .report import write_report

                    write_report(self, stage)
                else:
                    plan = STEPS[name].plan(ctx)
                    applies = bool(plan)
                    if not plan:
                        log.write("nothing to do for this model\n")
                    for cmd in plan:
                        commands.append(self.shown(cmd, stage, folder))
                        self._command(name, cmd, stage, log, log_final)
        finally:
            if log_tmp.exists():
                os.replace(log_tmp, log_final)
        seconds = time.perf_counter() - t0
        self.state.record(name, StepRecord(key, folder_files(folder), round(seconds, 3), applies, commands))
        if name == "report":
            self._publish(folder)
        self.say(f"{label} done in {seconds:.1f} s" + ("" if applies else " (nothing to do for this model)"))
        return StepOutcome(name, True, seconds, applies)

    def _publish(self, folder: Path) -> None:
        for f in ("report.html", "report.json"):
            atomic_write_bytes(self.out / f, (folder / f).read_bytes())

    def _inputs(self, ctx: Context, log) -> None:
        from kgen.arrays import read_inputs, write_array
        from kgen.modelfile import load_model
        from kgen.verify import verify_inputs

        model = load_model(ctx.path("model", MODEL_FILE))
        if self.spec.inputs.file is not None:
            x = read_inputs(str(self.spec.inputs.file), model.circuit.n_data)
            log.write(f"inputs from {self.spec.inputs.file}: {x.shape[0]} x {x.shape[1]}\n")
        else:
            x = verify_inputs(model, None, self.spec.inputs.samples, self.spec.inputs.seed)
            log.write(f"{self.spec.inputs.samples} standard normal inputs, seed {self.spec.inputs.seed}\n")
        write_array(ctx.stage / INPUTS_FILE, np.asarray(x, dtype=np.float64))

    def shown(self, cmd: Command, stage: Path, folder: Path) -> str:
        """The command as a user would type it from OUT: the step's final folder, paths relative to OUT."""
        import shlex

        words = []
        for a in ("kgen", *cmd.argv):
            a = a.replace(str(stage), str(folder))
            if a.startswith(str(self.out) + os.sep):
                a = a[len(str(self.out)) + 1:]
            words.append(shlex.quote(a))
        text = " ".join(words)
        return text + (f" > {folder.relative_to(self.out).as_posix()}/{cmd.stdout}" if cmd.stdout else "")

    def _command(self, name: str, cmd: Command, stage: Path, log, log_final: Path) -> None:
        log.write("$ " + self.shown(cmd, stage, self.folder(name)) + "\n")
        log.flush()
        if cmd.argv[0] == "copy":  # the model as given: a byte copy, checked by `kgen info` next
            shutil.copyfile(cmd.argv[1], cmd.argv[2])
            return
        with self.lock:
            if self.stopping:
                raise StepFailed(f"step {name}: not started, the flow is stopping")
        env = {**os.environ, "KGEN_PROGRESS": "0", "PYTHONUNBUFFERED": "1"}
        sink = open(stage / cmd.stdout, "w", encoding="utf-8") if cmd.stdout else log
        try:
            proc = subprocess.Popen([sys.executable, "-m", "kgen", *cmd.argv], stdout=sink, stderr=log, env=env,
                                    preexec_fn=_die_with_parent, stdin=subprocess.DEVNULL)
            with self.lock:
                self.children.add(proc)
            rc = proc.wait()
        finally:
            with self.lock:
                self.children.discard(locals().get("proc"))
            if cmd.stdout:
                sink.close()
        log.flush()
        if rc != 0:
            last = _last_error_line(log.name)
            message = f"step {name} failed (exit {rc}): {last}; log: {log_final}"
            raise StepCheckFailed(message) if rc == 1 else StepFailed(message)

    # -- the whole flow ----------------------------------------------------------------------------
    def stop_children(self) -> None:
        with self.lock:
            self.stopping = True
            children = list(self.children)
        for p in children:
            if p.poll() is None:
                p.terminate()

    def run(self) -> dict[str, StepOutcome]:
        if self.state is None and len(self.selected) < len(self.deps):
            raise InputError(expected_found(f"output directory {self.out}", "an earlier run of this flow "
                                                "(--only/--from take the other steps' results from it)", "none"))
        check_tools(self.spec, self.selected)
        prepare_output(self.out)
        if self.state is None:
            self.state = FlowState(self.out)
        for gone in [s for s in self.state.steps if s not in self.deps]:
            self.state.forget(gone)
        order = [s for s in STEP_NAMES if s in self.deps]
        total = len(order)
        done: dict[str, StepOutcome] = {}
        running: dict[cf.Future, str] = {}
        failure: BaseException | None = None
        pool = cf.ThreadPoolExecutor(max_workers=max(1, self.opts.jobs), thread_name_prefix="kgen-flow")
        try:
            while True:
                if failure is None:
                    for s in order:
                        if s not in done and s not in running.values() and all(d in done for d in self.deps[s]):
                            running[pool.submit(self.run_step, s, order.index(s) + 1, total)] = s
                if not running:
                    break
                finished, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    s = running.pop(fut)
                    try:
                        done[s] = fut.result()
                    except BaseException as exc:  # the first failure stops the flow; the others finish
                        if failure is None:
                            failure = exc
                            if not isinstance(exc, KgenError):
                                self.stop_children()
        except BaseException:
            self.stop_children()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        if failure is not None:
            raise failure
        self.outcomes = done
        return done


def _last_error_line(log_path: str) -> str:
    try:
        lines = [ln.strip() for ln in Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
                 if ln.strip() and not ln.startswith("$ kgen ")]
    except OSError:
        return "see its log"
    errors = [ln for ln in lines if ln.startswith("kgen: error: ")]
    return (errors[-1][len("kgen: error: "):] if errors else lines[-1] if lines else "no output")[:300]


def run_flow(spec: FlowSpec, out: Path, opts: FlowOptions, parser_for, say=lambda m: print(m, flush=True)) -> Engine:
    engine = Engine(spec, Path(out), opts, say, parser_for)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, on_term)
    try:
        engine.run()
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return engine

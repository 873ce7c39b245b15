"""What the flow remembers between runs: `OUT/flow.json`, one entry per finished step.

A step's key is the hash of everything that decides its result: its name, the kgen version, its
options, the files it reads from outside (the model's sources, an inputs file) and the content
of the folders of the steps it needs. A step whose key and folder are unchanged is up to date;
a step that re-ran with identical output leaves its downstream steps up to date (the key holds
content, not times). The file is replaced atomically after every step, so a killed flow keeps
what finished before it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from kgen import __version__
from kgen.fsutil import atomic_write_bytes

MANIFEST = "flow.json"
SCHEMA = "kgen.flow/1"


def file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_files(folder: Path) -> dict[str, str]:
    """relative posix path -> sha256 of every file below `folder` (sorted)."""
    return {p.relative_to(folder).as_posix(): file_sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def content_hash(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def step_key(name: str, options, sources: dict[str, str], upstream: dict[str, str]) -> str:
    doc = {"step": name, "kgen": __version__, "options": options, "sources": sources, "upstream": upstream}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class StepRecord:
    key: str
    files: dict  # relative path -> sha256 of the step's folder
    seconds: float
    applies: bool = True  # False: nothing to do for this model (e.g. no task to evaluate on)
    commands: list = field(default_factory=list)

    @property
    def output_hash(self) -> str:
        return content_hash(self.files)


class FlowState:
    def __init__(self, out: Path):
        self.path = out / MANIFEST
        self.steps: dict[str, StepRecord] = {}
        self._lock = threading.Lock()
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                if doc.get("schema") == SCHEMA:
                    self.steps = {k: StepRecord(**v) for k, v in doc.get("steps", {}).items()}
            except (ValueError, TypeError):
                self.steps = {}  # an unreadable manifest only costs a re-run

    def up_to_date(self, name: str, key: str, folder: Path) -> bool:
        rec = self.steps.get(name)
        return rec is not None and rec.key == key and folder.is_dir() and folder_files(folder) == rec.files

    def record(self, name: str, rec: StepRecord) -> None:
        with self._lock:
            self.steps[name] = rec
            self._write()

    def forget(self, name: str) -> None:
        with self._lock:
            if self.steps.pop(name, None) is not None:
                self._write()

    def _write(self) -> None:
        doc = {"schema": SCHEMA, "kgen": __version__,
               "steps": {k: vars(v) for k, v in sorted(self.steps.items())}}
        atomic_write_bytes(self.path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())

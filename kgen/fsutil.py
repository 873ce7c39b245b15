"""Atomic, deterministic file output.

Files are written to a temporary name in the destination folder and renamed,
so a failed run never leaves a half-written file. Output folders carry a
manifest (`kgen-manifest.json`) listing every file with its hash; a folder that
exists without one is refused, one with one is replaced atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, expected_found

MANIFEST = "kgen-manifest.json"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    if path.is_dir():
        raise InputError(expected_found(f"output path {path}", "a file path", "an existing directory"))
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(expected_found(f"output path {path}", "a path in an existing directory",
                                        f"no directory {parent}"))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def staged_directory(final: Path, replace_existing: bool = True):
    """Yield a fresh folder beside `final`; on success it becomes `final` in one rename.

    An existing `final` is replaced (its old contents removed after the swap), or, with
    `replace_existing=False`, kept: another process published the same thing first (a build
    cache). On any exception the stage is removed and `final` is untouched."""
    final = Path(final)
    parent = final.parent if str(final.parent) else Path(".")
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=parent))
    try:
        yield stage
        if final.exists() and not replace_existing:
            shutil.rmtree(stage, ignore_errors=True)
        elif final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=parent))
            os.rmdir(old)
            os.replace(final, old)
            os.replace(stage, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, final)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


@dataclass(frozen=True)
class Manifest:
    """What an output directory holds: the header (kgen version, digest, target, ...) and every file's hash."""

    path: Path
    header: dict
    files: dict  # relative posix path -> sha256

    def as_dict(self) -> dict:
        return {**self.header, "files": dict(self.files)}


def write_output_directory(path: str | os.PathLike, header: dict, fill) -> Manifest:
    """Create or replace a kgen output folder: `fill(stage)` writes the files into a staging folder,
    which then gets its manifest and replaces `path` atomically. A folder that exists without a kgen
    manifest is refused; on any exception `path` is left as it was."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InputError(expected_found(f"output directory {path}", "a directory path", "an existing file"))
        if not (path / MANIFEST).is_file():
            raise InputError(expected_found(f"output directory {path}",
                                            "a new path or a folder kgen wrote (with a kgen manifest)",
                                            "an existing directory without a kgen manifest"))
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(expected_found(f"output directory {path}", "a path in an existing directory",
                                        f"no directory {parent}"))
    with staged_directory(path) as stage:
        fill(stage)
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        manifest = Manifest(path, dict(header),
                            {p.relative_to(stage).as_posix(): sha256_hex(p.read_bytes()) for p in files})
        (stage / MANIFEST).write_text(json.dumps(manifest.as_dict(), indent=2, sort_keys=True) + "\n")
    return manifest

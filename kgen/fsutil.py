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
def output_directory(path: str | os.PathLike, header: dict):
    """Yield a fresh staging folder; on success it replaces `path` with a manifest.

    `header` (kgen version, circuit digest, target, ...) is stored in the
    manifest next to the file list. On any exception the staging folder is
    removed and `path` is left as it was.
    """
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
    stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        yield stage
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        manifest = dict(header)
        manifest["files"] = {p.relative_to(stage).as_posix(): sha256_hex(p.read_bytes()) for p in files}
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.rmdir(old)
            os.replace(path, old)
            os.replace(stage, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, path)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise

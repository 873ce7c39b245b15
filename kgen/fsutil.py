"""Atomic, deterministic file output that never loses a user's data.

Files are written to a temporary name in the destination folder and renamed,
so a failed run never leaves a half-written file; they get the permissions the
umask gives (not the temporary file's 0600). Output folders carry a manifest
(`kgen-manifest.json`) listing every file with its hash. A folder is replaced
only when it holds exactly what its manifest lists, with the hashes it records:
anything else in it (a user's notes, an edited netlist, a folder without a
manifest) is refused with one line naming the first such file, unless the user
passes --force. No command writes over one of its own inputs
(`refuse_own_inputs`). An operating-system failure while writing is one line
naming the path.
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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: Path, directory: bool = False) -> None:
    """Give a file or folder made through tempfile (0600 / 0700) the permissions the umask gives."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def os_errors(path: str | os.PathLike, what: str = "output path"):
    """An operating-system failure (read-only folder, no space, /proc, ...) as one line naming the path."""
    try:
        yield
    except InputError:
        raise
    except OSError as exc:
        raise InputError(expected_found(f"{what} {path}", "a place kgen can write",
                                        exc.strerror or type(exc).__name__)) from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    if path.is_dir():
        raise InputError(expected_found(f"output path {path}", "a file path", "an existing directory"))
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(expected_found(f"output path {path}", "a path in an existing directory",
                                        f"no directory {parent}"))
    with os_errors(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            honour_umask(Path(tmp))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def _resolved(path) -> Path:
    return Path(os.path.abspath(path))


def refuse_own_inputs(outputs, inputs) -> None:
    """No command writes over one of its own inputs, nor one output over another: `outputs` and `inputs`
    are (flag, path) pairs (None paths skipped); a folder output may not contain an input either."""
    outs = [(flag, _resolved(p)) for flag, p in outputs if p is not None]
    ins = [(flag, _resolved(p)) for flag, p in inputs if p is not None]
    for k, (flag, out) in enumerate(outs):
        for other_flag, other in ins + outs[:k]:
            same = out == other or (out.exists() and other.exists() and os.path.samefile(out, other))
            inside = other != out and out in other.parents
            if same or inside:
                where = "the same path as" if same else "a folder holding"
                raise InputError(expected_found(f"{flag} {out}", f"a path apart from the command's inputs and "
                                                f"other outputs", f"{where} {other_flag} {other}"))


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
    honour_umask(stage, directory=True)
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


def _foreign_entry(path: Path) -> str | None:
    """The first entry of a kgen output folder that its manifest does not account for (None: none)."""
    try:
        listed = json.loads((path / MANIFEST).read_text()).get("files", {})
        if not isinstance(listed, dict):
            raise ValueError("files is not a mapping")
    except (OSError, ValueError, AttributeError):
        return f"{MANIFEST}, which is not a kgen manifest"
    dirs = {str(Path(k).parent) for k in listed}
    for root, subdirs, files in os.walk(path):
        rel_root = Path(root).relative_to(path)
        for name in sorted(files):
            rel = (rel_root / name).as_posix()
            if rel == MANIFEST:
                continue
            if rel not in listed or (Path(root) / name).is_symlink():
                return f"{rel}, which kgen did not write"
            if sha256_hex((Path(root) / name).read_bytes()) != listed[rel]:
                return f"{rel}, changed since kgen wrote it"
        for name in sorted(subdirs):
            rel = (rel_root / name).as_posix()
            if (Path(root) / name).is_symlink() or not any(d == rel or d.startswith(rel + "/") for d in dirs):
                return f"{rel}/, which kgen did not write"
        subdirs.sort()
    return None


def check_replaceable(path: Path, force: bool = False) -> None:
    """A folder kgen may write into: new, or one it wrote and nobody changed since (else --force)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise InputError(expected_found(f"output directory {path}", "a directory path", "an existing file"))
    if force:
        return
    if not (path / MANIFEST).is_file():
        if not any(path.iterdir()):
            return
        raise InputError(expected_found(f"output directory {path}",
                                        "a new path or a folder kgen wrote (with a kgen manifest); --force "
                                        "replaces it anyway", "an existing directory without a kgen manifest"))
    foreign = _foreign_entry(path)
    if foreign:
        raise InputError(expected_found(f"output directory {path}", "only the files kgen wrote there (as its "
                                        "manifest lists them); --force replaces it anyway", foreign))


def write_output_directory(path: str | os.PathLike, header: dict, fill, force: bool = False) -> Manifest:
    """Create or replace a kgen output folder: `fill(stage)` writes the files into a staging folder,
    which then gets its manifest and replaces `path` atomically. An existing folder is replaced only
    when it holds just what its manifest lists (or with `force`); on any exception `path` is left
    as it was."""
    path = Path(path)
    if _resolved(path) == _resolved(Path.cwd()) or _resolved(path) in _resolved(Path.cwd()).parents:
        raise InputError(expected_found(f"output directory {path}", "a folder apart from the current one",
                                        "the current folder or one holding it"))
    check_replaceable(path, force)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(expected_found(f"output directory {path}", "a path in an existing directory",
                                        f"no directory {parent}"))
    with os_errors(path, "output directory"), staged_directory(path) as stage:
        fill(stage)
        files = sorted(p for p in stage.rglob("*") if p.is_file())
        manifest = Manifest(path, dict(header),
                            {p.relative_to(stage).as_posix(): sha256_hex(p.read_bytes()) for p in files})
        (stage / MANIFEST).write_text(json.dumps(manifest.as_dict(), indent=2, sort_keys=True) + "\n")
        for p in [stage, *stage.rglob("*")]:
            honour_umask(p, p.is_dir())
    return manifest

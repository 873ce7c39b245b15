"""Nothing lost: an output folder is replaced only when it holds just what kgen wrote there.

Every target and verb that writes a folder (the three targets, the quantize report) refuses a folder
with a file or a sub-folder its manifest does not list, or a file changed since, names it in one line
(exit 2) and leaves everything as it was; `--force` replaces it on purpose; a re-run into a folder that
holds only kgen's files replaces it atomically. Outputs honour the umask, and no command writes over
one of its own inputs.
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from kgen.cli import main
from kgen.fsutil import MANIFEST

QUANTIZE = ["--samples", "40", "--ref-samples", "16", "--eval-samples", "16", "--no-table", "--dt-candidates", "0.1"]


def writers(tmp_path):
    """(name, argv writing the folder `out`, the folder) for every command that writes one."""
    m = str(tmp_path / "m.kgen")
    out = tmp_path / "out"
    return [
        ("spice", ["--target", "spice", m, "-o", str(out)], out),
        ("veriloga", ["--target", "veriloga", m, "-o", str(out)], out),
        ("verilog", ["--target", "verilog", m, "-o", str(out), "--steps", "4"], out),
        ("quantize report", ["quantize", m, "-o", str(tmp_path / "q.kgen"), "--report", str(out), *QUANTIZE], out),
    ]


@pytest.fixture()
def model(tmp_path):
    assert main(["example", "-o", str(tmp_path / "m.kgen")]) == 0
    return tmp_path / "m.kgen"


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("which", range(4), ids=["spice", "veriloga", "verilog", "quantize-report"])
def test_foreign_files_survive_every_folder_writer(model, tmp_path, capsys, which):
    if which == 2:
        pytest.importorskip("amaranth")
    name, argv, out = writers(tmp_path)[which]
    assert main(argv) == 0, capsys.readouterr().err
    first = json.loads((out / MANIFEST).read_text())
    again = main(argv)  # a folder holding only kgen's files: replaced atomically
    assert again == 0 and json.loads((out / MANIFEST).read_text()) == first
    capsys.readouterr()
    for foreign in ("notes.txt", "src/main.c"):
        (out / foreign).parent.mkdir(exist_ok=True)
        (out / foreign).write_text("a user's work\n")
        before = snapshot(out)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "expected only the files kgen wrote there" in err
        assert f"found {foreign.split('/')[0]}" in err and "--force" in err
        assert snapshot(out) == before  # nothing lost, nothing replaced
        (out / foreign).unlink()
        if foreign.startswith("src/"):
            (out / "src").rmdir()
    listed = sorted(first["files"])[0]
    (out / listed).write_bytes((out / listed).read_bytes() + b"\n edited by hand\n")
    assert main(argv) == 2 and f"found {listed}, changed since kgen wrote it" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0  # on purpose: the edit is gone
    assert json.loads((out / MANIFEST).read_text())["files"] == first["files"]


def test_a_folder_without_a_manifest_is_refused_unless_empty(model, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    assert main(["--target", "spice", str(model), "-o", str(out)]) == 0  # empty: nothing to lose
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "keep.txt").write_text("user data")
    assert main(["--target", "spice", str(model), "-o", str(tmp_path / "theirs")]) == 2
    assert "an existing directory without a kgen manifest" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "theirs").iterdir()] == ["keep.txt"]


def test_the_current_folder_is_never_replaced(model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "here"
    assert main(["--target", "spice", str(model), "-o", str(out)]) == 0
    monkeypatch.chdir(out)
    before = snapshot(out)
    assert main(["--target", "spice", str(model), "-o", "."]) == 2
    assert capsys.readouterr().err == ("kgen: error: output directory .: expected a folder apart from the current one, "
                                       "found the current folder or one holding it\n")
    assert snapshot(out) == before


def test_outputs_honour_the_umask(model, tmp_path):
    old = os.umask(0o027)
    try:
        np.save(tmp_path / "x.npy", np.zeros((1, 3)))
        assert main(["run", str(model), "--inputs", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]) == 0
        assert main(["--target", "spice", str(model), "-o", str(tmp_path / "sp")]) == 0
        assert main(["example", "-o", str(tmp_path / "e.kgen")]) == 0
    finally:
        os.umask(old)
    for path, mode in ((tmp_path / "y.npy", 0o640), (tmp_path / "e.kgen", 0o640), (tmp_path / "sp", 0o750),
                       (tmp_path / "sp" / "netlist.cir", 0o640), (tmp_path / "sp" / MANIFEST, 0o640)):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


@pytest.mark.parametrize("argv,flag,other", [
    (["run", "{m}", "--inputs", "{x}", "-o", "{x}"], "-o", "--inputs"),
    (["run", "{m}", "--inputs", "{x}", "-o", "{m}"], "-o", "MODEL"),
    (["run", "{m}", "--inputs", "{x}", "-o", "{d}/y.npy", "--trace", "{d}/y.npy"], "--trace", "-o"),
    (["verify", "{m}", "--view", "fixed", "--steps", "4", "--inputs", "{x}", "--trace", "{x}"], "--trace", "--inputs"),
    (["--target", "spice", "{m}", "-o", "{d}"], "-o", "MODEL"),  # the folder holds the model
    (["--target", "spice", "{m}", "-o", "{d}/sp", "--inputs", "{x}"], None, None),  # fine: apart
    (["quantize", "{m}", "-o", "{m}", *QUANTIZE], "-o", "MODEL"),
])
def test_no_command_writes_over_its_own_inputs(model, tmp_path, capsys, argv, flag, other):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 3)))
    before = {p: p.read_bytes() for p in (model, x)}
    argv = [a.format(m=model, x=x, d=tmp_path) for a in argv]
    rc = main(argv)
    if flag is None:
        assert rc == 0
        return
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"kgen: error: {flag} ") and f" {other} " in err
    assert {p: p.read_bytes() for p in (model, x)} == before


def test_import_never_overwrites_its_checkpoint(tmp_path, capsys, reference):
    import shutil

    ck = tmp_path / "ck"
    shutil.copytree(reference / "twomoon", ck)
    before = (ck / "model.pth").read_bytes()
    assert main(["import", str(ck / "config.yaml"), str(ck / "model.pth"), "-o", str(ck / "model.pth")]) == 2
    assert "expected a path apart from the command's inputs" in capsys.readouterr().err
    assert (ck / "model.pth").read_bytes() == before

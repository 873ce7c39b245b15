"""The import-layer check (`lint-imports`, configured in pyproject.toml) on kgen's real package tree.

kgen's sub-packages live in root folders (codegen/, emulation/, hdl/, templates/) that pyproject maps into
the `kgen` namespace; import-linter reads a package by walking its folder, so it is given a view of the
tree in which those folders sit inside kgen/ (symbolic links), the layout Python imports. Run directly
(`python tests/layer_view.py`, or `make lint-imports`) it prints import-linter's report and exits with its
status; the test suite runs it through tests/test_layers.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAPPED = ("codegen", "emulation", "hdl", "templates")


def make_view(dest: Path) -> Path:
    """A folder holding kgen/ with the mapped sub-packages linked in, and the project's pyproject.toml."""
    pkg = dest / "kgen"
    pkg.mkdir(parents=True)
    for entry in (REPO / "kgen").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name in MAPPED:
        (pkg / name).symlink_to(REPO / name)
    (dest / "pyproject.toml").symlink_to(REPO / "pyproject.toml")
    return dest


def lint_imports(dest: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    env = dict(os.environ, PYTHONPATH=str(dest))
    return subprocess.run([str(exe), "--no-cache"], cwd=dest, env=env, capture_output=True, text=True)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        done = lint_imports(make_view(Path(tmp)))
    print(done.stdout + done.stderr, end="")
    sys.exit(done.returncode)

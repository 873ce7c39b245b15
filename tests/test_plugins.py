"""Views and targets are plugins: a package outside kgen adds its own through entry points, flags included.

The package tests/plugin_example is installed with pip into a folder on the child processes' PYTHONPATH (so
the venv other tests share stays as it is); `kgen run --view hold`, `kgen --target card` and their --help
then pick the plugins up with their own flags.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import shutil

    site = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "plugin_example"  # pip builds in the source folder: a copy
    shutil.copytree(HERE / "plugin_example", source)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return site


def kgen(site, *argv, cwd):
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-m", "kgen", *map(str, argv)], capture_output=True, text=True, env=env,
                          cwd=cwd)


def test_an_installed_package_adds_a_view_and_a_target(site, tmp_path):
    assert kgen(site, "example", "-o", tmp_path / "m.kgen", cwd=tmp_path).returncode == 0
    x = np.random.default_rng(0).standard_normal((3, 3))
    np.save(tmp_path / "x.npy", x)
    overview = kgen(site, "--help", cwd=tmp_path).stdout
    assert "hold" in overview and "card" in overview
    helped = kgen(site, "run", "--view", "hold", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--gain GAIN" in helped.stdout and "hold view options" in helped.stdout
    done = kgen(site, "run", tmp_path / "m.kgen", "--view", "hold", "--gain", "2", "--inputs", tmp_path / "x.npy",
                "-o", tmp_path / "y.npy", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (3, 2) and np.all(y == 0)  # the outputs (nodes 5, 6) start at 0 V and hold
    bad = kgen(site, "run", tmp_path / "m.kgen", "--view", "hold", "--gain", "-1", "--inputs", tmp_path / "x.npy",
               "-o", tmp_path / "z.npy", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr == "kgen: error: --gain: expected a positive factor, found -1.0\n"
    helped = kgen(site, "--target", "card", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--heading HEADING" in helped.stdout
    done = kgen(site, "--target", "card", tmp_path / "m.kgen", "-o", tmp_path / "card", "--heading", "KGEN CARD",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "card" / "card.txt").read_text()
    assert text.startswith("KGEN CARD\ndemo: 6 nodes, 24 edges") and (tmp_path / "card" / "kgen-manifest.json").is_file()


def test_one_flag_name_has_one_meaning_in_every_plugin():
    """Same flag, same type and help in every view and target: the shared options are defined once.
    A choice (an Enum field, e.g. --dialect) may offer each plugin's own values."""
    import enum
    import typing

    from kgen.options import flag_name, option_fields
    from kgen.plugins import TARGETS, VIEWS

    meanings: dict[str, dict[tuple, list[str]]] = {}
    for registry in (VIEWS, TARGETS):
        for name in registry.names():
            cls = registry.get(name).Options
            hints = typing.get_type_hints(cls)
            for f in option_fields(cls):
                tp = hints[f.name]
                args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
                choice = all(isinstance(a, type) and issubclass(a, enum.Enum) for a in args)
                meaning = ("a choice",) if choice else (str(tp), f.metadata["help"])
                meanings.setdefault(flag_name(f.name), {}).setdefault(meaning, []).append(f"{registry.kind} {name}")
    clashes = {flag: m for flag, m in meanings.items() if len(m) > 1}
    assert not clashes, clashes
    assert {"--steps", "--reverse"} <= set(meanings)


def test_every_plugin_builds_its_commands_help():
    """Each view's flags fit `kgen run` and `kgen verify`, each target's `kgen --target` (no clash with theirs)."""
    from kgen.cli import main
    from kgen.plugins import TARGETS, VIEWS

    for name in VIEWS.names():
        for verb in ("run", "verify"):
            with pytest.raises(SystemExit) as e:
                main([verb, "--view", name, "--help"])
            assert e.value.code == 0
    for name in TARGETS.names():
        with pytest.raises(SystemExit) as e:
            main(["--target", name, "--help"])
        assert e.value.code == 0

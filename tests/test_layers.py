"""The layering is a checked contract: import-linter passes on the tree (pyproject.toml [tool.importlinter])."""

from layer_view import lint_imports, make_view


def test_lint_imports_keeps_every_contract(tmp_path):
    done = lint_imports(make_view(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout

"""Jinja templates (package data), one folder per target; `common/` is shared."""

"""JSON as kgen prints and stores it: sorted keys, and non-finite numbers as null (JSON has no NaN)."""

from __future__ import annotations

import json
import math


def finite(obj):
    """A copy of obj with every non-finite float replaced by None."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj, indent: int | None = None) -> str:
    return json.dumps(finite(obj), indent=indent, sort_keys=True)

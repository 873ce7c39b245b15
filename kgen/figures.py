"""Saving matplotlib figures the way kgen writes every file: deterministic and atomic.

The format follows the file name (png, pdf, svg); PNGs carry no "Software" stamp
(it names the matplotlib version), so the same figure gives the same bytes.
"""

from __future__ import annotations

import io
import os


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write `fig` to `path` atomically and close it."""
    from .fsutil import atomic_write_bytes

    name = os.fspath(path)
    fmt = name.rsplit(".", 1)[-1].lower() if "." in os.path.basename(name) else "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Software": None} if fmt == "png" else None)
    pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())

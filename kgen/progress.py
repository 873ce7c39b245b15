"""Progress of long steps on stderr, through one progress-bar library (tqdm).

Bars show on a terminal and stay silent when stderr is a file or a pipe (logs
and the test suite see only kgen's one-line messages); `KGEN_PROGRESS=1`
forces them on, `KGEN_PROGRESS=0` off.
"""

from __future__ import annotations

import os
import sys


def _enabled() -> bool | None:
    flag = os.environ.get("KGEN_PROGRESS")
    if flag == "1":
        return True
    if flag == "0":
        return False
    return sys.stderr.isatty()


def bar(total: int | None, desc: str, unit: str = "it"):
    """A tqdm bar on stderr (a context manager with `update(n)`); a no-op where progress is off."""
    from tqdm import tqdm

    return tqdm(total=total, desc=f"kgen: {desc}", unit=unit, file=sys.stderr, disable=not _enabled(),
                leave=False, dynamic_ncols=True)


def callback(desc: str, unit: str = "it"):
    """A `progress(done, total)` callback for loops that report counts, drawing one bar."""
    state: dict = {}

    def report(done: int, total: int) -> None:
        b = state.get("bar")
        if b is None:
            b = state["bar"] = bar(total, desc, unit)
        b.update(done - b.n)
        if done >= total:
            b.close()
    return report

"""Reading SPICE binary raw files (ngspice `-r`, VACASK `tran1.raw`) and sampling them at boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgen.errors import ToolError, expected_found


@dataclass(frozen=True, eq=False)
class Waveforms:
    names: tuple[str, ...]  # lower-cased variable names, e.g. "time", "v(n1)" or "n1"
    data: np.ndarray  # (points, variables) float64

    @property
    def time(self) -> np.ndarray:
        return self.data[:, 0]

    def column(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ToolError(expected_found("simulator waveform", f"a variable {name}",
                                           f"{len(self.names)} variables ({', '.join(self.names[:4])}, ...)")) from None


def read_raw(path: str | Path) -> Waveforms:
    path = Path(path)
    blob = path.read_bytes()
    marker = blob.find(b"Binary:\n")
    if marker < 0:
        raise ToolError(expected_found(f"raw file {path}", "a binary SPICE raw file", "no 'Binary:' section"))
    header = blob[:marker].decode("latin-1")
    fields = {}
    lines = header.splitlines()
    for i, line in enumerate(lines):
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = (value.strip(), i)
    try:
        n_vars = int(fields["no. variables"][0])
        n_points = int(fields["no. points"][0])
        start = fields["variables"][1] + 1
    except (KeyError, ValueError):
        raise ToolError(expected_found(f"raw file {path}", "variable and point counts", "a malformed header")) from None
    if "complex" in fields.get("flags", ("real", 0))[0]:
        raise ToolError(expected_found(f"raw file {path}", "real data", "complex data"))
    names = tuple(lines[start + k].split()[1].lower() for k in range(n_vars))
    body = blob[marker + len(b"Binary:\n"):]
    count = len(body) // (8 * n_vars)  # whole points only: a killed writer may leave the last one cut
    # A run that stopped early leaves fewer points than announced; ngspice announces 0 until the
    # run ends (it writes the points as it goes and fixes the count last), so 0 means "count them".
    n_points = count if n_points == 0 else min(n_points, count)
    data = np.frombuffer(body, dtype="<f8", count=n_points * n_vars).reshape(n_points, n_vars)
    return Waveforms(names, data)


def sample(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """values (S, ...) at each time of `at`: the computed point when the simulator landed on it
    (breakpoints make it land on every boundary), else linear interpolation between neighbours."""
    out = np.empty((len(at),) + values.shape[1:])
    for k, t in enumerate(at):
        j = int(np.searchsorted(times, t))
        tol = 1e-12 * max(abs(times[-1]), abs(t))
        # the last point at t (a breakpoint may be followed by a tiny step)
        hits = np.flatnonzero(np.abs(times[max(j - 1, 0):j + 2] - t) <= tol)
        if hits.size:
            out[k] = values[max(j - 1, 0) + hits[0]]
        elif 0 < j < len(times):
            a, b = times[j - 1], times[j]
            f = (t - a) / (b - a)
            out[k] = (1 - f) * values[j - 1] + f * values[j]
        else:
            raise ToolError(expected_found("simulator waveform", f"a point at t = {t!r}",
                                           f"times {times[0]!r}..{times[-1]!r}"))
    return out

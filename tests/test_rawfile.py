"""read_raw on binary raw files that a stopped simulator left behind: only the complete points come back."""

import numpy as np
import pytest

from kgen.codegen.rawfile import read_raw


def write_raw(path, data: np.ndarray, announced: int, cut_bytes: int) -> None:
    """A binary raw file in ngspice's layout (time plus node voltages), its body cut cut_bytes short."""
    names = ["time", "v(out)", "v(b)"][:data.shape[1]]
    header = ("Title: * test\nDate: Sun Nov 29 19:02:30  2026\nPlotname: Transient Analysis\nFlags: real\n"
              f"No. Variables: {data.shape[1]}\nNo. Points: {announced:<8d}\nVariables:\n"
              + "".join(f"\t{k}\t{n}\t{'time' if k == 0 else 'voltage'}\n" for k, n in enumerate(names))
              + "Binary:\n")
    body = data.astype("<f8").tobytes()
    path.write_bytes(header.encode("latin-1") + body[:len(body) - cut_bytes])


# ngspice announces 0 points until the run ends (a killed run keeps the 0); a file could also
# announce more points than it holds
@pytest.mark.parametrize("announced", [0, 5])
@pytest.mark.parametrize("cut_bytes", [0, 8, 20])
def test_a_cut_file_gives_its_complete_points(tmp_path, announced, cut_bytes):
    data = np.column_stack([np.linspace(0, 1, 5), np.arange(5.0), -np.arange(5.0)])
    write_raw(tmp_path / "t.raw", data, announced, cut_bytes)
    w = read_raw(tmp_path / "t.raw")
    kept = 5 if cut_bytes == 0 else 4  # a point cut anywhere inside is dropped
    assert w.names == ("time", "v(out)", "v(b)")
    np.testing.assert_array_equal(w.data, data[:kept])
    assert w.time[-1] == data[kept - 1, 0]


def test_a_complete_file_ignores_bytes_past_the_announced_points(tmp_path):
    data = np.column_stack([np.linspace(0, 1, 4), np.arange(4.0)])
    write_raw(tmp_path / "t.raw", data, announced=3, cut_bytes=0)
    np.testing.assert_array_equal(read_raw(tmp_path / "t.raw").data, data[:3])

"""Start-up time of the command line: `kgen --help` and a plugin's `--help` in fresh processes.

    .venv/bin/python bench/startup.py [--repeat N]

`kgen --help` lists the verbs, targets and views from the entry points without
importing the plugins' heavy dependencies (torch, sympy, amaranth, cocotb), so
it stays under 0.5 s; a plugin's --help imports only that plugin's module.
Prints the median wall time of N runs (default 7) per command.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

KGEN = Path(sys.executable).with_name("kgen")
COMMANDS = (["--help"], ["--target", "spice", "--help"], ["run", "--view", "float", "--help"],
            ["run", "--view", "rtl", "--help"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    for argv in COMMANDS:
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            done = subprocess.run([str(KGEN), *argv], capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if done.returncode != 0:
                sys.exit(f"kgen {' '.join(argv)} failed: {done.stderr.strip()}")
        print(f"kgen {' '.join(argv):<28} median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}, {a.repeat} runs)")


if __name__ == "__main__":
    main()

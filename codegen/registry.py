"""Code-generation targets as plugins.

A target is an options dataclass built from its CLI flags, and a generator that
writes files into a staging folder (the CLI wraps it in an atomic output
directory with a manifest). Target modules are imported only when chosen, so
`kgen --target spice` never loads amaranth or cocotb.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kgen.circuit import Circuit
from kgen.errors import UnsupportedError, expected_found


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    options_from_args: Callable[[argparse.Namespace], Any]
    generate: Callable[[Circuit, Any, Path], list[str]]  # returns the written files, relative to the folder
    header: Callable[[Any], dict] = lambda options: {}  # extra manifest fields from the options


# name -> module that defines `TARGET`
TARGET_MODULES = {
    "veriloga": "kgen.codegen.veriloga",
    "spice": "kgen.codegen.spice",
    "verilog": "kgen.hdl.target",
}


def available_targets() -> list[str]:
    return sorted(name for name, mod in TARGET_MODULES.items() if importlib.util.find_spec(mod) is not None)


def get_target(name: str) -> Target:
    names = available_targets()
    if name not in names:
        raise UnsupportedError(expected_found("--target", "one of " + ", ".join(names) if names else "a target",
                                              repr(name)))
    return importlib.import_module(TARGET_MODULES[name]).TARGET

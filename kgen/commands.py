"""Commands: verbs a package adds to `kgen` (entry-point group `kgen.commands`), e.g. `kgen quantize`.

A command has a name, a one-line description, `add_arguments(parser)` and
`main(args)`; the CLI dispatches `kgen NAME ...` to it. A command may also
serve the Python API (`Model.quantize` calls the quantize command's
`quantize(model, data, **options)`).
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from typing import ClassVar


class Command(ABC):
    name: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        ...

    @abstractmethod
    def main(self, args: argparse.Namespace) -> int | None:
        """Run the verb; a KgenError is the one-line error, a return value the exit status (None: 0)."""

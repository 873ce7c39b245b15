"""Targets: the code generators (`kgen --target T MODEL -o DIR`): spice, veriloga, verilog, ...

A target is a plugin (kgen.plugins.TARGETS, entry-point group `kgen.targets`)
with a name, an options dataclass whose fields make its flags, and
`generate(model, folder, options) -> files`, which writes into a fresh folder.
`write(model, out_dir, options) -> Manifest` wraps it: the files land in a
staging folder, get a manifest (kgen version, circuit digest, target, the
options' header fields, every file's hash) and replace out_dir atomically.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from .fsutil import Manifest, write_output_directory
from .options import options_of


class Target(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    Options: ClassVar[type]

    def options(self, **kwargs):
        """This target's options from Python keywords (the same validation as its flags)."""
        return options_of(self.Options, **kwargs)

    def header(self, options) -> dict:
        """Extra manifest fields from the options (e.g. the dialect)."""
        return {}

    @abstractmethod
    def generate(self, model, folder: Path, options) -> list[str]:
        """Write the target's files into `folder` (new and empty); return their names, relative to it."""

    def write(self, model, out_dir: str | Path, options, force: bool = False) -> Manifest:
        """Write into out_dir: new, or a folder kgen wrote that holds only its files (else `force`)."""
        from . import __version__

        header = {"kgen_version": __version__, "target": self.name, "circuit": model.name, "digest": model.digest,
                  **self.header(options)}
        return write_output_directory(out_dir, header, lambda stage: self.generate(model, stage, options), force)

"""`kgen --target T MODEL -o DIR`: the code-generation form of the CLI."""

from __future__ import annotations

import argparse

from . import __version__


def run_codegen(argv: list[str], parser_class: type[argparse.ArgumentParser]) -> None:
    pre = parser_class(prog="kgen --target", add_help=False)
    pre.add_argument("--target", required=True)
    known, _ = pre.parse_known_args(argv)
    from kgen.codegen.registry import get_target

    target = get_target(known.target)
    p = parser_class(prog=f"kgen --target {target.name}", description=target.description)
    p.add_argument("--target", required=True)
    p.add_argument("model", help="kgen model file or original checkpoint folder")
    p.add_argument("-o", "--output", required=True, help="output directory (created; replaced if kgen wrote it)")
    target.add_arguments(p)
    a = p.parse_args(argv)
    options = target.options_from_args(a)

    from .fsutil import output_directory
    from .modelfile import circuit_digest
    from .original import load_any

    circuit = load_any(a.model)
    header = {"kgen_version": __version__, "target": target.name, "circuit": circuit.name,
              "digest": circuit_digest(circuit), **target.header(options)}
    with output_directory(a.output, header) as stage:
        files = target.generate(circuit, options, stage)
    print(f"wrote {len(files)} files for {circuit.name} ({target.name}) to {a.output}")

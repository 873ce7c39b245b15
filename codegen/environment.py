"""The single Jinja environment every target renders with.

Templates only loop and substitute: StrictUndefined turns a missing variable
into an error, and numbers arrive already printed (by Python) as strings.
"""

from __future__ import annotations

import functools

import jinja2


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kgen.templates", "."),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # HTML (the flow report) is escaped; netlists and Verilog are text and never are
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False,
                                            default=False),
    )


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def write(path, template: str, **context) -> None:
    """Render a template straight into a file, chunk by chunk (element lists may be generators)."""
    stream = environment().get_template(template).stream(**context)
    stream.enable_buffering(size=256)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        stream.dump(fh)

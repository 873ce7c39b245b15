"""kgen.codegen: expression printers, code-generation targets and the one Jinja environment."""

"""kgen: turn a trained KirchhoffNet into hardware.

The Python API mirrors the command line. A notebook session:

>>> import numpy as np, kgen
>>> model = kgen.example()                      # or kgen.load("model.kgen"), or an original checkpoint folder
>>> trace = model.run(np.zeros((4, 3)))        # the float view; view="spice", "fixed", "rtl", ... alike
>>> model.outputs(trace).shape
(4, 2)
>>> kgen.view_names()[:3]
['board', 'fixed', 'float']

`Model.export(target, out_dir, **options)` writes a target's files,
`Model.verify(view, ...)` compares a view with its reference, and
`Model.quantize(...)` picks the fixed-point twin's formats. The core package
holds the Circuit IR, the device library, the topology generators, the torch
reference, the original-checkpoint importer and the CLI; the sibling folders
codegen/, templates/, emulation/ and hdl/ are mapped in as sub-packages (see
pyproject.toml) and plug in through entry points.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load", "example", "view_names", "target_names", "Model", "Circuit", "Trace", "Record",
           "KgenError", "InputError", "UnsupportedError", "CircuitError", "ToolError"]

# Attributes load on first use, so `import kgen` (and `kgen --help`) stays fast.
_LAZY = {
    "Model": ("kgen.modelfile", "Model"),
    "Circuit": ("kgen.circuit", "Circuit"),
    "Trace": ("kgen.trace", "Trace"),
    "Record": ("kgen.views", "Record"),
    "KgenError": ("kgen.errors", "KgenError"),
    "InputError": ("kgen.errors", "InputError"),
    "UnsupportedError": ("kgen.errors", "UnsupportedError"),
    "CircuitError": ("kgen.errors", "CircuitError"),
    "ToolError": ("kgen.errors", "ToolError"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'kgen' has no attribute {name!r}")


def load(path):
    """A model from a kgen model file, or from a folder with an original config.yaml + model.pth."""
    from .modelfile import load_model

    return load_model(path)


def example(seed: int | None = None):
    """The bundled example model (6 nodes, 3 windows, five device kinds), or a random circuit of `seed`."""
    from .examples import demo_circuit, random_circuit
    from .modelfile import Model

    return Model(demo_circuit() if seed is None else random_circuit(seed))


def view_names() -> list[str]:
    """The names of the views installed (kgen's own and any package's)."""
    from .plugins import VIEWS

    return VIEWS.names()


def target_names() -> list[str]:
    """The names of the targets installed."""
    from .plugins import TARGETS

    return TARGETS.names()

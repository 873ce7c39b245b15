"""kgen: turn a trained KirchhoffNet into hardware.

The core package holds the Circuit IR, the device library, the topology
generators, the PyTorch reference model, the original-checkpoint importer and
the CLI. The sibling folders codegen/, templates/, emulation/ and hdl/ are
mapped in as sub-packages (see pyproject.toml).
"""

__version__ = "0.1.0"

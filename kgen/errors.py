"""The one exception hierarchy of kgen.

Every error a user can cause derives from KgenError. The CLI catches KgenError,
prints its one-line message and exits 2, or 1 for a CheckFailed (a check the
user asked for found a difference: `kgen verify`, the RTL bench), the
convention of test tools; anything else is a bug and shows a traceback.
"""


class KgenError(Exception):
    """Base of every error kgen reports to a user."""


class InputError(KgenError):
    """A file, array or argument the user gave is not what was expected."""


class UnsupportedError(KgenError):
    """The input is well formed but uses a feature kgen does not support."""


class CircuitError(KgenError):
    """A circuit violates an invariant of the IR (indices, shapes, values)."""


class ToolError(KgenError):
    """An external tool is missing or failed."""


class FitError(KgenError):
    """A design needs more of a device than the device has (FPGA resources, memory)."""


class CheckFailed(KgenError):
    """A comparison the user asked for found a difference beyond its tolerance (exit status 1)."""


def expected_found(what: str, expected: str, found: str) -> str:
    """Format the one-line 'what: expected X, found Y' message used everywhere."""
    return f"{what}: expected {expected}, found {found}"

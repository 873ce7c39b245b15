"""The board as a view: `kgen run MODEL --view board --port PORT` talks to the board design over its UART.

The host side of protocol.py, over pyserial (a device such as /dev/ttyUSB1,
or any pyserial URL: `socket://HOST:PORT`, a pseudo-terminal of the
simulated board `kgen fpga simulate`). Per input: LOAD its words, RUN, READ
the outputs; STATUS first, to check that the board carries this model's
design (its circuit digest) with the same word width. The inputs are loaded
as the bit-exact model loads them, so `kgen verify --view board` compares the
board's outputs with the fixed view word for word. A reply that is not a good
frame, a reply other than OK, or no reply in time is one line (exit 2).

The trace holds the loaded start and the final state of the output nodes:
a board reports nothing else (`extra["observed_steps"]`, `recorded_nodes`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np

from kgen.emulation.views import FixedOptions, fixed_reference_options
from kgen.errors import KgenError, ToolError, expected_found
from kgen.options import option
from kgen.views import Record, View

from . import protocol as P

DEFAULT_BAUD = 115200


class BoardError(KgenError):
    """The board did not answer as the protocol says (bad frame, an error reply, no reply)."""


def _serial():
    try:
        import serial
    except ImportError:
        raise ToolError(expected_found("pyserial (the board view's serial port)", "installed",
                                       "none (install: pip install pyserial)")) from None
    return serial


class BoardClient:
    """One board behind a serial port, spoken to in protocol.py's frames."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD, timeout: float = 10.0):
        serial = _serial()
        self.port = port
        self.timeout = timeout
        try:
            self.link = serial.serial_for_url(port, baudrate=baud, timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise BoardError(expected_found(f"--port {port}", "a serial port that opens",
                                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)) from None

    def close(self) -> None:
        self.link.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read(self, n: int, cmd: P.Command) -> bytes:
        data = self.link.read(n)
        if len(data) < n:
            raise BoardError(expected_found(f"board at {self.port}, {cmd.name}",
                                            f"a reply within {self.timeout:g} s",
                                            f"{len(data)} of {n} bytes" if data else "none"))
        return data

    def request(self, cmd: P.Command, payload: bytes = b"") -> bytes:
        """Send one request; the OK reply's payload, else a BoardError naming the reply."""
        self.link.reset_input_buffer()
        self.link.write(P.request(cmd, payload))
        self.link.flush()
        head = self._read(P.HEADER_BYTES, cmd)
        n = head[2] | head[3] << 8
        frame = head + self._read(n + 1, cmd)
        try:
            status, body, _ = P.parse_reply(frame)
        except P.FrameError as exc:
            raise BoardError(f"board at {self.port}, {cmd.name}: {exc} (a corrupted reply)") from None
        if status is not P.Reply.OK:
            raise BoardError(expected_found(f"board at {self.port}, {cmd.name}", "an OK reply",
                                            f"{status.name} ({status.meaning})"))
        return body

    def status(self) -> P.Status:
        return P.Status.unpack(self.request(P.Command.STATUS))

    def infer(self, words, width: int) -> list[int]:
        """One inference: LOAD the input words, RUN, READ the output words."""
        self.request(P.Command.LOAD, P.pack_words(words, width))
        self.request(P.Command.RUN)
        return P.unpack_words(self.request(P.Command.READ), width)


@dataclass(frozen=True)
class BoardOptions(FixedOptions):
    """The fixed view's options (the program the board's design runs) and the serial link's."""

    title = "board view"
    port: str | None = option(None, help="the board's serial port: a device (/dev/ttyUSB1) or a pyserial URL "
                                         "(socket://HOST:PORT); `kgen fpga simulate` prints a simulated board's")
    baud: int = option(DEFAULT_BAUD, help="UART baud rate")
    timeout: float = option(30.0, help="seconds to wait for each reply")


class BoardView(View):
    name = "board"
    description = "the twin on an FPGA board (or the simulated board), over the UART host protocol"
    Options = BoardOptions
    reference = "fixed"

    def reference_options(self, model, options: BoardOptions) -> dict:
        return fixed_reference_options(model, options)

    def run(self, model, x: np.ndarray, options: BoardOptions, record: Record = Record.BOUNDARIES):
        from kgen.emulation.interp import Emulator
        from kgen.emulation.views import program_of
        from kgen.progress import bar

        from .fixed import hw_width
        from .verify import input_words

        if not options.port:
            raise BoardError(expected_found("--port", "the board's serial port (a device or a pyserial URL)",
                                            "none"))
        program = program_of(model, options)
        width = hw_width(program.integrator)
        X0, _ = Emulator(program).load(x)
        words = input_words(program, X0)
        out_rows = np.asarray(program.outputs) - 1
        with BoardClient(options.port, options.baud, options.timeout) as board:
            st = board.status()
            want = P.design_digest(program.manifest())
            if st.digest != want or st.word_bits != width:
                raise BoardError(expected_found(f"board at {options.port}",
                                                f"the design of {program.name} at these steps and formats "
                                                f"(design digest {want}, {width}-bit words)",
                                                f"design digest {st.digest}, {st.word_bits}-bit words"))
            outputs = np.zeros((x.shape[0], len(out_rows)), np.int64)
            with bar(x.shape[0], "board", "input") as progress:
                for b in range(x.shape[0]):
                    outputs[b] = board.infer(words[b], width)
                    progress.update(1)
            st = board.status()
        if st.saturations:
            print(f"kgen: warning: board view: {st.saturations} saturated node updates in the last inference",
                  file=sys.stderr)
        marks = program.boundary_steps()
        raw = np.zeros((len(marks), program.n_nodes, x.shape[0]), np.int64)
        raw[0] = X0
        raw[-1][out_rows] = outputs.T
        flags = np.zeros(raw.shape, np.uint8)
        trace = program.trace(raw, flags, "board", marks)
        v = trace.v.copy()
        v[1:] = np.nan  # not observed ...
        v[-1][:, out_rows] = trace.v[-1][:, out_rows]  # ... except the outputs at the end
        label = f"board at {options.port} (UART host protocol, {st.cycles} cycles per inference)"
        details = {"port": options.port, "cycles_per_inference": st.cycles, "inferences": st.inferences,
                   "digest": st.digest}
        return replace(trace, v=v, extra={**trace.extra, "label": label, "details": details,
                                          "observed_steps": [0, len(marks) - 1],
                                          "recorded_nodes": [int(n) for n in program.outputs]})


VIEW = BoardView()

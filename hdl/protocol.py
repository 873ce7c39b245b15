"""The host protocol of the board top: framed commands over a UART, each frame closed by a CRC-8.

Pure Python: the hardware (host_top.py) takes its constants from here and the
host (kgen run --view board) encodes and decodes with these functions, so the
two sides cannot drift apart.

A request is `0xA5, CMD, LEN (2 bytes, little-endian), PAYLOAD[LEN], CRC`; a
reply is `0x5A, STATUS, LEN (2), PAYLOAD[LEN], CRC`. The CRC is CRC-8 with the
polynomial 0x07 (CRC-8/SMBUS, initial value 0) over every byte after the sync
byte; it detects every single corrupted byte and every burst up to 8 bits.
The board checks a request's CRC before acting on it: a LOAD whose CRC fails
marks the inputs as not loaded, so a corrupted frame is reported and never
computed on.

Words are the integrator's raw values in `ceil(width / 8)` bytes,
little-endian, two's complement.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

REQUEST_SYNC = 0xA5
REPLY_SYNC = 0x5A
CRC_POLY = 0x07
HEADER_BYTES = 4  # sync, command or status, length (2)
#: Bytes of the design digest the STATUS reply carries (the circuit digest's first bytes).
DIGEST_BYTES = 8
#: A request that stalls this many byte times after its sync byte is dropped (the receiver hunts for sync again).
TIMEOUT_BYTES = 64


class Command(enum.IntEnum):
    LOAD = 0x01  # payload: the input words
    RUN = 0x02  # no payload; the reply comes when the inference has finished
    READ = 0x03  # no payload; the reply carries the output words
    STATUS = 0x04  # no payload; the reply carries the Status fields


class Reply(enum.IntEnum):
    OK = 0x00
    BAD_CRC = 0x01
    BAD_COMMAND = 0x02
    BAD_LENGTH = 0x03
    NOT_LOADED = 0x04  # RUN before a good LOAD (or after a corrupted one)
    NOT_RUN = 0x05  # READ before a finished RUN

    @property
    def meaning(self) -> str:
        return {Reply.OK: "ok", Reply.BAD_CRC: "a request with a bad checksum",
                Reply.BAD_COMMAND: "an unknown command", Reply.BAD_LENGTH: "a payload of the wrong length",
                Reply.NOT_LOADED: "RUN with no good LOAD before it", Reply.NOT_RUN: "READ with no finished RUN"}[self]


def design_digest(program_manifest: dict) -> str:
    """The hex digest a board reports: the lowered program's manifest (circuit digest, formats, steps, shifts),
    so a board built for other steps or formats of the same circuit is told apart."""
    import hashlib
    import json

    text = json.dumps(program_manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:2 * DIGEST_BYTES]


def crc8(data: bytes | bytearray, crc: int = 0) -> int:
    """CRC-8/SMBUS (polynomial 0x07, no reflection, initial 0) of `data`, continuing from `crc`."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def frame(sync: int, code: int, payload: bytes = b"") -> bytes:
    """One frame: sync, code, length, payload, CRC over everything after the sync byte."""
    if len(payload) >= 1 << 16:
        raise ValueError(f"a frame payload holds at most 65535 bytes, found {len(payload)}")
    body = bytes([code, len(payload) & 0xFF, len(payload) >> 8]) + bytes(payload)
    return bytes([sync]) + body + bytes([crc8(body)])


def request(cmd: Command, payload: bytes = b"") -> bytes:
    return frame(REQUEST_SYNC, int(cmd), payload)


def word_bytes(width: int) -> int:
    return (width + 7) // 8


def pack_words(values, width: int) -> bytes:
    """Raw signed integers as little-endian two's complement words of `word_bytes(width)` bytes."""
    n = word_bytes(width)
    out = bytearray()
    for v in values:
        v = int(v)
        if not -(1 << (width - 1)) <= v < 1 << (width - 1):
            raise ValueError(f"a {width}-bit signed word holds -2^{width - 1}..2^{width - 1}-1, found {v}")
        out += (v & ((1 << (8 * n)) - 1)).to_bytes(n, "little")
    return bytes(out)


def unpack_words(data: bytes, width: int) -> list[int]:
    """The inverse of pack_words (sign taken from bit width-1)."""
    n = word_bytes(width)
    out = []
    for i in range(0, len(data), n):
        v = int.from_bytes(data[i:i + n], "little") & ((1 << width) - 1)
        out.append(v - (1 << width) if v >> (width - 1) else v)
    return out


@dataclass(frozen=True)
class Status:
    """The STATUS reply: what the board last did and which design it is."""

    cycles: int  # Euler-step cycles of the last inference (the core's `cycles`)
    saturations: int  # saturated node updates in the last inference
    inferences: int  # inferences finished since reset
    digest: str  # hex, DIGEST_BYTES bytes of the design digest (design_digest)
    n_inputs: int
    n_outputs: int
    word_bits: int

    FORMAT = ((6, "cycles"), (4, "saturations"), (4, "inferences"), (DIGEST_BYTES, "digest"), (2, "n_inputs"),
              (2, "n_outputs"), (1, "word_bits"))

    @classmethod
    def size(cls) -> int:
        return sum(n for n, _ in cls.FORMAT)

    def pack(self) -> bytes:
        out = bytearray()
        for n, name in self.FORMAT:
            v = getattr(self, name)
            out += bytes.fromhex(v) if name == "digest" else int(v).to_bytes(n, "little")
        return bytes(out)

    @classmethod
    def unpack(cls, data: bytes) -> "Status":
        if len(data) != cls.size():
            raise ValueError(f"a STATUS payload is {cls.size()} bytes, found {len(data)}")
        values, at = {}, 0
        for n, name in cls.FORMAT:
            chunk = data[at:at + n]
            values[name] = chunk.hex() if name == "digest" else int.from_bytes(chunk, "little")
            at += n
        return cls(**values)


class FrameError(Exception):
    """A reply that cannot be decoded (bad sync, truncated, bad CRC)."""


def parse_reply(data: bytes) -> tuple[Reply, bytes, bytes]:
    """(status, payload, rest) of the first reply frame in `data`; FrameError when it is not a whole good frame."""
    if len(data) < HEADER_BYTES + 1:
        raise FrameError(f"a reply of at least {HEADER_BYTES + 1} bytes, found {len(data)}")
    if data[0] != REPLY_SYNC:
        raise FrameError(f"reply sync byte 0x{REPLY_SYNC:02x}, found 0x{data[0]:02x}")
    n = data[2] | data[3] << 8
    end = HEADER_BYTES + n + 1
    if len(data) < end:
        raise FrameError(f"a reply of {end} bytes, found {len(data)}")
    if crc8(data[1:end - 1]) != data[end - 1]:
        raise FrameError(f"reply checksum 0x{crc8(data[1:end - 1]):02x}, found 0x{data[end - 1]:02x}")
    try:
        status = Reply(data[1])
    except ValueError:
        raise FrameError(f"a known reply status, found 0x{data[1]:02x}") from None
    return status, bytes(data[HEADER_BYTES:end - 1]), bytes(data[end:])

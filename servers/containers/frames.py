"""Docker's log stream -> log lines.

Without a TTY the engine multiplexes stdout and stderr into frames, each an
8-byte header (stream type, 3 zero bytes, payload length as big-endian uint32)
and the payload; with a TTY it is one raw stream. Frames do not align with
lines, so each stream keeps its own partial line until its newline comes.
"""

from __future__ import annotations

import struct
from datetime import datetime

from servers.containers.docker_json import timestamp
from servers.containers.domain import STDERR, STDOUT, LogLine

HEADER = struct.Struct(">BxxxL")
STREAM_TYPES = {0: STDOUT, 1: STDOUT, 2: STDERR}  # 0 is stdin, which the engine echoes as output
MAX_LINE_BYTES = 64 * 1024


class FrameParser:
    """Cuts whatever the engine sent so far into (stream, payload) frames; a
    frame cut across reads waits for its rest. Parsing a whole read at once
    (rather than two awaits per frame) is what keeps up with a chatty container."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        buffer, at, frames = self._buffer + data, 0, []
        while len(buffer) - at >= HEADER.size:
            kind, length = HEADER.unpack_from(buffer, at)
            if kind not in STREAM_TYPES:
                raise ValueError(f"not a multiplexed log stream (frame type {kind})")
            end = at + HEADER.size + length
            if end > len(buffer):
                break
            if length:
                frames.append((STREAM_TYPES[kind], buffer[at + HEADER.size : end]))
            at = end
        self._buffer = buffer[at:]
        return frames

    def close(self) -> None:
        if self._buffer:
            raise ValueError("log stream ended inside a frame")


class LineSplitter:
    """Cuts each stream's bytes into lines (newline dropped, at most
    MAX_LINE_BYTES each), keeping the unfinished tail of each stream."""

    def __init__(self, timestamps: bool):
        self._timestamps = timestamps
        self._partial: dict[str, bytes] = {}

    def feed(self, stream: str, data: bytes) -> list[LogLine]:
        buffer = self._partial.pop(stream, b"") + data
        *complete, rest = buffer.split(b"\n")
        lines = [line for raw in complete for line in self._cut(stream, raw)]
        while len(rest) > MAX_LINE_BYTES:
            lines.append(self._line(stream, rest[:MAX_LINE_BYTES]))
            rest = rest[MAX_LINE_BYTES:]
        if rest:
            self._partial[stream] = rest
        return lines

    def flush(self) -> list[LogLine]:
        """The unfinished lines at the end of the stream."""
        partial, self._partial = self._partial, {}
        return [line for stream, raw in partial.items() for line in self._cut(stream, raw)]

    def _cut(self, stream: str, raw: bytes) -> list[LogLine]:
        raw = raw.removesuffix(b"\r")
        pieces = [raw[i : i + MAX_LINE_BYTES] for i in range(0, len(raw), MAX_LINE_BYTES)] or [b""]
        return [self._line(stream, piece) for piece in pieces]

    def _line(self, stream: str, raw: bytes) -> LogLine:
        text = raw.decode("utf-8", errors="replace")
        when: datetime | None = None
        if self._timestamps:  # the engine puts "<RFC 3339 nano> " before each line
            stamp, _, rest = text.partition(" ")
            try:
                when = timestamp(stamp)
            except ValueError:
                when = None  # a split-off continuation of a long line carries no stamp
            else:
                text = rest
        return LogLine(stream, text, when)

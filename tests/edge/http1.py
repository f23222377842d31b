"""A bare HTTP/1.1 client (h11 on a socket) for the stream tests: it reads a response as the
bytes arrive and keeps its chunked-encoding trailers, which httpx does not expose."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import h11


class Http1Exchange:
    """One request and its response on its own connection."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._conn = h11.Connection(h11.CLIENT)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.trailers: dict[str, str] = {}
        self.ended = False

    def send(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> None:
        fields = [("host", "edge.test"), *headers.items()]
        if body:
            fields.append(("content-length", str(len(body))))
        self._sock.sendall(self._conn.send(h11.Request(method=method, target=target, headers=fields)))
        if body:
            self._sock.sendall(self._conn.send(h11.Data(data=body)))
        self._sock.sendall(self._conn.send(h11.EndOfMessage()))
        response = self._next()
        assert isinstance(response, h11.Response), response
        self.status = response.status_code
        self.headers = {k.decode(): v.decode() for k, v in response.headers}

    def chunks(self) -> Iterator[bytes]:
        """The body, piece by piece as it arrives; the trailers once it has ended."""
        while True:
            event = self._next()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.trailers = {k.decode(): v.decode() for k, v in event.headers}
                self.ended = True
                return
            else:
                raise AssertionError(f"unexpected {event!r}")

    def messages(self) -> Iterator[Any]:
        """Each streamed message, parsed, as soon as its framing is complete: SSE
        (`data: <json>` and a blank line) or NDJSON (one JSON object per line)."""
        sse = self.headers.get("content-type", "").startswith("text/event-stream")
        separator = b"\n\n" if sse else b"\n"
        pending = b""
        for chunk in self.chunks():
            pending += chunk
            *complete, pending = pending.split(separator)
            for frame in complete:
                if sse:
                    assert frame.startswith(b"data: "), frame
                    frame = frame.removeprefix(b"data: ")
                if frame.strip():
                    yield json.loads(frame)
        assert not pending.strip(), f"unterminated frame {pending!r}"

    def _next(self) -> Any:
        while True:
            event = self._conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            self._conn.receive_data(self._sock.recv(65536))


@contextmanager
def http1(port: int, timeout: float = 10) -> Iterator[Http1Exchange]:
    """A fresh HTTP/1.1 connection to 127.0.0.1:`port` for one exchange."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        yield Http1Exchange(sock)

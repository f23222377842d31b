"""A real OTLP/HTTP trace receiver in the test process (what a collector's `otlp` receiver
does on :4318), for tests of what Envoy exports."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    span: trace_pb2.Span


class OtlpReceiver:
    def __init__(self) -> None:
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self.endpoint = ""

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                service = attributes.get("service.name", "")
                for scope_spans in resource_spans.scope_spans:
                    self._spans.extend(ReceivedSpan(service, span) for span in scope_spans.spans)

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    async def wait_for(self, match: Callable[[ReceivedSpan], bool]) -> ReceivedSpan:
        """The first received span `match` accepts, waiting (up to WAIT_SECONDS) for the
        exporter's next flush without blocking the loop the in-process servers run on."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            found = next((s for s in self.spans() if match(s)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching span among {len(self.spans())} received")
            await asyncio.sleep(0.05)


def read_body(request: BaseHTTPRequestHandler) -> bytes:
    """The request body, sized or chunked: Envoy's OTLP/HTTP exporter sends it chunked."""
    if request.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return request.rfile.read(int(request.headers.get("Content-Length", 0)))
    chunks = []
    while size := int(request.rfile.readline().split(b";")[0].strip() or b"0", 16):
        chunks.append(request.rfile.read(size))
        request.rfile.readline()  # the CRLF after the chunk
    while request.rfile.readline().strip():  # trailers, up to the blank line
        pass
    return b"".join(chunks)


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Serves POST /v1/traces (protobuf) on 127.0.0.1, a free port; `.endpoint` is its base URL."""
    receiver = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = read_body(self)
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            receiver.add(trace_service_pb2.ExportTraceServiceRequest.FromString(body))
            reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""The floor for benchmarks/ai_gateway_overhead.py: AiService's Chat and
StreamChat served by the same stack as the gateway (grpc.aio on uvloop, one
pooled aiohttp session to the provider) with none of its work: no auth,
validation, limits, accounting, events or telemetry. What this adds over the
direct call is what the stack itself costs on the machine; the gateway's own
work is the difference between the two.

    python benchmarks/passthrough.py --port 50100 --upstream http://127.0.0.1:8000/openai/v1

Several processes may share the port (SO_REUSEPORT), like GRPC_WORKERS.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator

import aiohttp
import grpc
import uvloop
from aether.ai.v1 import ai_service_pb2 as pb
from aether.ai.v1 import ai_service_pb2_grpc, model_pb2


class PassThrough(ai_service_pb2_grpc.AiServiceServicer):
    def __init__(self, upstream: str):
        self._url = upstream.rstrip("/") + "/chat/completions"
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # belongs to the running loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512), headers={"authorization": "Bearer test-key"}
            )
        return self._session

    def _body(self, message: str, stream: bool) -> dict[str, object]:
        body: dict[str, object] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": message}]}
        return body | ({"stream": True, "stream_options": {"include_usage": True}} if stream else {})

    async def Chat(self, request: pb.ChatRequest, context: grpc.aio.ServicerContext) -> pb.ChatResponse:
        async with self._client().post(self._url, json=self._body(request.message, False)) as r:
            data = json.loads(await r.read())
        usage = data["usage"]
        return pb.ChatResponse(
            response=data["choices"][0]["message"]["content"],
            model=request.model,
            tokens=model_pb2.TokenUsage(
                input=usage["prompt_tokens"], output=usage["completion_tokens"], total=usage["total_tokens"]
            ),
        )

    async def StreamChat(
        self, request: pb.StreamChatRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamChatResponse]:
        async with self._client().post(self._url, json=self._body(request.message, True)) as r:
            async for data in r.content.iter_any():
                yield pb.StreamChatResponse(chunk=pb.ChatChunk(content=data.decode(errors="replace")))
        yield pb.StreamChatResponse(final=pb.ChatFinal(done=True))


async def serve(port: int, upstream: str) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
    ai_service_pb2_grpc.add_AiServiceServicer_to_server(PassThrough(upstream), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the provider's OpenAI-compatible base URL")
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.upstream))

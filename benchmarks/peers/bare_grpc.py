"""The floor of a gRPC call on this machine: a bare grpc.aio server on uvloop
answering grpc.health.v1 Health/Check, with no interceptor, no database and no
auth (benchmarks/side_by_side.py loads it with h2load).

    python benchmarks/peers/bare_grpc.py --port 50200
"""

from __future__ import annotations

import argparse

import grpc
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


async def serve(port: int) -> None:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))

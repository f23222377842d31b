"""gRPC transport for ContainerService: decode, call the use case, encode.

Each streaming RPC holds its use-case stream in `aclosing`: when the client
cancels (or Envoy resets the stream) grpc drops the handler, whose close runs
down through every layer to the engine's HTTP response, so no engine stream
outlives its RPC (engine.OPEN_STREAMS counts them)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import grpc
from aether.containers.v1 import container_pb2, containers_service_pb2_grpc
from aether.containers.v1 import containers_service_pb2 as pb

from servers.containers import mapping
from servers.containers.domain import Container, build_list_query
from servers.containers.usecases import ContainerUseCases
from servers.platform.paging import PageRequest


def _timeout(request: Any) -> int | None:
    return request.timeout_seconds if request.HasField("timeout_seconds") else None


class ContainerServicer(containers_service_pb2_grpc.ContainerServiceServicer):
    def __init__(self, usecases: ContainerUseCases):
        self._uc = usecases

    async def ListContainers(
        self, request: pb.ListContainersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListContainersResponse:
        query = build_list_query(
            all=request.all,
            page=request.page,
            limit=request.limit,
            name=request.name,
            state=mapping.state_of(request.state),
            sort=request.sort,
            order=request.order,
        )
        return mapping.containers_page(await self._uc.list_page(query))

    async def GetContainer(
        self, request: pb.GetContainerRequest, context: grpc.aio.ServicerContext
    ) -> container_pb2.Container:
        return mapping.container_to_proto(await self._uc.get(request.id))

    async def StartContainer(
        self, request: pb.StartContainerRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartContainerResponse:
        container, message = await self._uc.start(request.id)
        return pb.StartContainerResponse(success=True, message=message, **_outcome(container))

    async def StopContainer(
        self, request: pb.StopContainerRequest, context: grpc.aio.ServicerContext
    ) -> pb.StopContainerResponse:
        container, message = await self._uc.stop(request.id, _timeout(request))
        return pb.StopContainerResponse(success=True, message=message, **_outcome(container))

    async def RestartContainer(
        self, request: pb.RestartContainerRequest, context: grpc.aio.ServicerContext
    ) -> pb.RestartContainerResponse:
        container, message = await self._uc.restart(request.id, _timeout(request))
        return pb.RestartContainerResponse(success=True, message=message, **_outcome(container))

    async def DeleteContainer(
        self, request: pb.DeleteContainerRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteContainerResponse:
        container = await self._uc.delete(request.id, request.force, request.volumes)
        return pb.DeleteContainerResponse(
            success=True, message=f"container {container.name} removed", id=container.id
        )

    async def StreamContainerLogs(
        self, request: pb.StreamContainerLogsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncGenerator[pb.StreamContainerLogsResponse, None]:
        async with contextlib.aclosing(self._uc.logs(request.id, mapping.logs_query(request))) as items:
            async for item in items:
                yield mapping.logs_message(item)

    async def GetContainerStats(
        self, request: pb.GetContainerStatsRequest, context: grpc.aio.ServicerContext
    ) -> container_pb2.ContainerStats:
        return mapping.stats_to_proto(await self._uc.stats(request.id))

    async def StreamContainerStats(
        self, request: pb.StreamContainerStatsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncGenerator[pb.StreamContainerStatsResponse, None]:
        async with contextlib.aclosing(self._uc.stats_stream(request.id)) as items:
            async for item in items:
                yield mapping.stats_message(item)

    async def ListImages(
        self, request: pb.ListImagesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListImagesResponse:
        page = PageRequest.of(request.page, request.limit)
        return mapping.images_page(await self._uc.images(request.all, request.reference, page))

    async def PullImage(
        self, request: pb.PullImageRequest, context: grpc.aio.ServicerContext
    ) -> AsyncGenerator[pb.PullImageResponse, None]:
        pull = self._uc.pull(request.image, request.tag, request.digest, request.platform)
        async with contextlib.aclosing(pull) as items:
            async for item in items:
                yield mapping.pull_message(item)

    async def GetDaemonInfo(
        self, request: pb.GetDaemonInfoRequest, context: grpc.aio.ServicerContext
    ) -> container_pb2.DaemonInfo:
        return mapping.info_to_proto(await self._uc.info())

    async def PingDaemon(
        self, request: pb.PingDaemonRequest, context: grpc.aio.ServicerContext
    ) -> pb.PingDaemonResponse:
        return pb.PingDaemonResponse(ok=True, api_version=await self._uc.ping())


def _outcome(container: Container) -> dict[str, Any]:
    return {"id": container.id, "state": mapping.state_to_proto(container.state)}

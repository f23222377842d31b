"""gRPC transport for AnalyticsService: decode, call the use case, encode."""

from __future__ import annotations

import grpc
from aether.analytics.v1 import analytics_service_pb2 as pb
from aether.analytics.v1 import analytics_service_pb2_grpc

from servers.analytics import mapping
from servers.analytics.domain import client_event_type
from servers.analytics.usecases import AnalyticsUseCases
from servers.platform.paging import PageRequest
from servers.platform.timestamps import field_datetime


class AnalyticsServicer(analytics_service_pb2_grpc.AnalyticsServiceServicer):
    def __init__(self, usecases: AnalyticsUseCases):
        self._uc = usecases

    async def RecordEvent(
        self, request: pb.RecordEventRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordEventResponse:
        event_id = await self._uc.record(
            request.event_type,
            request.user_id,
            mapping.struct_to_dict(request.metadata),
            field_datetime(request, "timestamp"),
            request.request_id,
        )
        stored_as = client_event_type(request.event_type)
        return pb.RecordEventResponse(success=True, event_id=event_id, event_type=stored_as)

    async def GetUsage(
        self, request: pb.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetUsageResponse:
        report = await self._uc.usage(
            field_datetime(request, "start_date"),
            field_datetime(request, "end_date"),
            request.granularity,
            request.metric,
            request.user_id,
        )
        return mapping.usage_to_proto(report)

    async def GetErrors(
        self, request: pb.GetErrorsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetErrorsResponse:
        report = await self._uc.errors(
            field_datetime(request, "start_date"),
            field_datetime(request, "end_date"),
            request.severity,
            request.service,
            PageRequest.of(request.page, request.limit),
        )
        return mapping.errors_to_proto(report)

    async def GetHealth(
        self, request: pb.GetHealthRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetHealthResponse:
        return mapping.health_to_proto(await self._uc.health())

    async def GetDashboard(
        self, request: pb.GetDashboardRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDashboardResponse:
        return mapping.dashboard_to_proto(await self._uc.dashboard(request.period, request.top_users_limit))

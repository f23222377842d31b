"""The event backbone wired end to end: tasks created and completed through the
TaskService show up in the creator's Analytics usage, counted once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
from aether.analytics.v1 import analytics_service_pb2 as analytics_pb
from aether.analytics.v1 import analytics_service_pb2_grpc
from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from aether.tasks.v1 import tasks_service_pb2 as tasks_pb
from aether.tasks.v1 import tasks_service_pb2_grpc
from google.protobuf import timestamp_pb2

from tests.helpers import STRONG_PASSWORD, bearer, unique_email


def _ts(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


async def test_task_events_reach_analytics_usage_once(app_server: tuple[str, list[str]]) -> None:
    async with grpc.aio.insecure_channel(app_server[0]) as channel:
        auth = auth_service_pb2_grpc.AuthServiceStub(channel)
        email = unique_email("flow")
        await auth.Register(
            auth_service_pb2.RegisterRequest(email=email, password=STRONG_PASSWORD, name="Flow")
        )
        login = await auth.Login(auth_service_pb2.LoginRequest(email=email, password=STRONG_PASSWORD))
        token = bearer(login.access_token)

        tasks = tasks_service_pb2_grpc.TaskServiceStub(channel)
        created = [
            await tasks.CreateTask(tasks_pb.CreateTaskRequest(title=f"t{i}"), metadata=token)
            for i in range(3)
        ]
        await tasks.CompleteTask(tasks_pb.CompleteTaskRequest(id=created[0].id), metadata=token)

        analytics = analytics_service_pb2_grpc.AnalyticsServiceStub(channel)
        now = datetime.now(UTC)
        request = analytics_pb.GetUsageRequest(
            start_date=_ts(now - timedelta(hours=2)),
            end_date=_ts(now + timedelta(hours=1)),
            granularity="day",
        )

        async def totals() -> tuple[int, int]:
            usage = await analytics.GetUsage(request, metadata=token)
            return sum(b.task_created for b in usage.metrics), sum(b.task_completed for b in usage.metrics)

        for _ in range(100):  # delivery is asynchronous (outbox -> relay -> consumer)
            if await totals() == (3, 1):
                break
            await asyncio.sleep(0.1)
        assert await totals() == (3, 1)
        # A later event is the sentinel: a duplicate of the first ones would be counted before it.
        await tasks.CreateTask(tasks_pb.CreateTaskRequest(title="sentinel"), metadata=token)
        for _ in range(100):
            if (await totals())[0] >= 4:
                break
            await asyncio.sleep(0.1)
        assert await totals() == (4, 1)

"""gRPC transport for TaskService: decode, call the use case, encode."""

from __future__ import annotations

import grpc
from aether.tasks.v1 import task_pb2, tasks_service_pb2_grpc
from aether.tasks.v1 import tasks_service_pb2 as pb

from servers.platform.errors import FieldViolation, InvalidArgument
from servers.platform.timestamps import field_datetime
from servers.tasks import mapping
from servers.tasks.domain import build_list_query
from servers.tasks.usecases import TaskUseCases

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_KEY_LENGTH = 128


def _request_id(field_value: str, context: grpc.aio.ServicerContext) -> str:
    """The idempotency key: the request_id field, else the Idempotency-Key header."""
    if field_value:
        return field_value
    header = next(
        (str(v) for k, v in context.invocation_metadata() or () if k.lower() == IDEMPOTENCY_HEADER), ""
    ).strip()
    if len(header) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            "Idempotency-Key is too long",
            [FieldViolation("requestId", f"must be at most {MAX_KEY_LENGTH} characters")],
        )
    return header


class TaskServicer(tasks_service_pb2_grpc.TaskServiceServicer):
    def __init__(self, usecases: TaskUseCases):
        self._uc = usecases

    async def CreateTask(
        self, request: pb.CreateTaskRequest, context: grpc.aio.ServicerContext
    ) -> task_pb2.Task:
        task = await self._uc.create(mapping.new_task(request), _request_id(request.request_id, context))
        return mapping.task_to_proto(task)

    async def ListTasks(
        self, request: pb.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTasksResponse:
        query = build_list_query(
            status=request.status,
            priority=request.priority,
            category=request.category,
            assignee=request.assignee,
            tags=request.tags,
            due_before=field_datetime(request, "due_before"),
            page=request.page,
            limit=request.limit,
            sort=request.sort,
            order=request.order,
        )
        return mapping.page_to_proto(await self._uc.list_page(query))

    async def GetTaskStats(
        self, request: pb.GetTaskStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTaskStatsResponse:
        stats = await self._uc.stats(
            request.user_id,
            field_datetime(request, "start_date"),
            field_datetime(request, "end_date"),
        )
        return mapping.stats_to_proto(stats)

    async def GetTask(self, request: pb.GetTaskRequest, context: grpc.aio.ServicerContext) -> task_pb2.Task:
        return mapping.task_to_proto(await self._uc.get(request.id))

    async def UpdateTask(
        self, request: pb.UpdateTaskRequest, context: grpc.aio.ServicerContext
    ) -> task_pb2.Task:
        return mapping.task_to_proto(await self._uc.update(request.id, mapping.task_patch(request)))

    async def DeleteTask(
        self, request: pb.DeleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteTaskResponse:
        task = await self._uc.delete(request.id)
        return pb.DeleteTaskResponse(success=True, message="Task deleted", id=task.id)

    async def CompleteTask(
        self, request: pb.CompleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteTaskResponse:
        hours = request.actual_hours if request.HasField("actual_hours") else None
        return mapping.completion_to_proto(await self._uc.complete(request.id, hours))

    async def AddComment(
        self, request: pb.AddCommentRequest, context: grpc.aio.ServicerContext
    ) -> task_pb2.Comment:
        comment = await self._uc.comment(
            request.task_id, request.text, _request_id(request.request_id, context)
        )
        return mapping.comment_to_proto(comment)

"""Domain <-> proto conversions for the Task Manager, in one place."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aether.tasks.v1 import events_pb2, task_pb2
from aether.tasks.v1 import tasks_service_pb2 as pb
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from servers.platform.pagination import pagination
from servers.platform.paging import Page
from servers.platform.timestamps import field_datetime, set_timestamp, timestamp
from servers.platform.uow import OutgoingEvent
from servers.tasks.domain import (
    DEFAULT_PRIORITY,
    Change,
    Comment,
    NewTask,
    Stats,
    Task,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskDueSoon,
    TaskEvent,
    TaskOverdue,
    TaskPatch,
    TaskUpdated,
)


def _value(value: Any) -> struct_pb2.Value:
    out = struct_pb2.Value()
    json_format.ParseDict(value, out)
    return out


def change_to_proto(change: Change) -> task_pb2.HistoryEntry:
    entry = task_pb2.HistoryEntry(action=change.action, field=change.field, user_id=change.user_id)
    if change.action not in ("created", "commented"):
        entry.from_value.CopyFrom(_value(change.from_value))
    if change.action != "created":
        entry.to_value.CopyFrom(_value(change.to_value))
    if change.timestamp is not None:
        entry.timestamp.CopyFrom(timestamp(change.timestamp))
    return entry


def comment_to_proto(comment: Comment) -> task_pb2.Comment:
    return task_pb2.Comment(
        id=comment.id,
        task_id=comment.task_id,
        user_id=comment.user_id,
        text=comment.text,
        created_at=timestamp(comment.created_at),
    )


def task_to_proto(task: Task) -> task_pb2.Task:
    msg = task_pb2.Task()
    fill_task(msg, task)
    return msg


def fill_task(msg: task_pb2.Task, task: Task) -> None:
    """Write `task` into an empty message in place: a list page fills the messages it adds
    to its repeated field, which costs half of building each apart and copying it in."""
    msg.id = task.id
    msg.title = task.title
    msg.description = task.description
    msg.status = task.status
    msg.priority = task.priority
    msg.category = task.category
    msg.tags.extend(task.tags)
    msg.assignee = task.assignee
    msg.estimated_hours = task.estimated_hours
    msg.actual_hours = task.actual_hours
    msg.progress = task.progress
    set_timestamp(msg.created_at, task.created_at)
    msg.created_by = task.created_by
    set_timestamp(msg.updated_at, task.updated_at)
    msg.completed_by = task.completed_by
    msg.version = task.version
    if task.due_date is not None:
        set_timestamp(msg.due_date, task.due_date)
    if task.completed_at is not None:
        set_timestamp(msg.completed_at, task.completed_at)
    msg.comments.extend(comment_to_proto(c) for c in task.comments)
    msg.history.extend(change_to_proto(h) for h in task.history)


def new_task(request: pb.CreateTaskRequest) -> NewTask:
    return NewTask(
        title=request.title,
        description=request.description,
        priority=request.priority or DEFAULT_PRIORITY,
        category=request.category,
        due_date=field_datetime(request, "due_date"),
        tags=tuple(request.tags),
        assignee=request.assignee,
        estimated_hours=request.estimated_hours,
    )


def task_patch(request: pb.UpdateTaskRequest) -> TaskPatch:
    def opt(name: str) -> Any:
        return getattr(request, name) if request.HasField(name) else None

    return TaskPatch(
        title=opt("title"),
        description=opt("description"),
        priority=opt("priority"),
        status=opt("status"),
        category=opt("category"),
        due_date=field_datetime(request, "due_date"),
        clear_due_date=request.clear_due_date,
        tags=() if request.clear_tags else (tuple(request.tags) or None),
        assignee=opt("assignee"),
        estimated_hours=opt("estimated_hours"),
        actual_hours=opt("actual_hours"),
        progress=opt("progress"),
        expected_version=opt("expected_version"),
    )


def page_to_proto(page: Page[Task]) -> pb.ListTasksResponse:
    msg = pb.ListTasksResponse(pagination=pagination(page))
    for task in page.items:
        fill_task(msg.tasks.add(), task)
    return msg


def stats_to_proto(stats: Stats) -> pb.GetTaskStatsResponse:
    return pb.GetTaskStatsResponse(
        total=stats.total,
        by_status=stats.by_status,
        by_priority=stats.by_priority,
        completion_rate=stats.completion_rate,
        average_completion_time_hours=stats.average_completion_time_hours,
        overdue=stats.overdue,
    )


def completion_to_proto(task: Task) -> pb.CompleteTaskResponse:
    msg = pb.CompleteTaskResponse(
        id=task.id, status=task.status, completed_by=task.completed_by, actual_hours=task.actual_hours
    )
    if task.completed_at is not None:
        msg.completed_at.CopyFrom(timestamp(task.completed_at))
    return msg


# --- domain events -> aether.tasks.v1 event payloads (tasks without comments and history) ---
def _bare(task: Task) -> task_pb2.Task:
    msg = task_to_proto(task)
    del msg.comments[:]
    del msg.history[:]
    return msg


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def to_event(event: TaskEvent) -> OutgoingEvent:
    """The one mapping of the Task Manager's domain events to their protos."""
    task = event.task
    payload: Message
    match event:
        case TaskCreated():
            kind, payload = "created", events_pb2.TaskCreated(task=_bare(task))
        case TaskUpdated(changes=changes):
            kind = "updated"
            payload = events_pb2.TaskUpdated(task=_bare(task), changes=[change_to_proto(c) for c in changes])
        case TaskCompleted():
            hours = (task.completed_at - task.created_at).total_seconds() / 3600 if task.completed_at else 0.0
            kind, payload = (
                "completed",
                events_pb2.TaskCompleted(task=_bare(task), completion_time_hours=hours),
            )
        case TaskDeleted(deleted_by=by):
            kind, payload = "deleted", events_pb2.TaskDeleted(task=_bare(task), deleted_by=by)
        case TaskDueSoon(at=at):
            assert task.due_date is not None
            due_in = _seconds(task.due_date - at)
            kind, payload = "due_soon", events_pb2.TaskDueSoon(task=_bare(task), due_in_seconds=due_in)
        case TaskOverdue(at=at):
            assert task.due_date is not None
            late = _seconds(at - task.due_date)
            kind, payload = "overdue", events_pb2.TaskOverdue(task=_bare(task), overdue_by_seconds=late)
    return OutgoingEvent(f"task.{kind}", task.id, payload)

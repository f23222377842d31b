"""Composition root of the Task Manager: settings -> store -> use cases ->
servicer, plus the due-date scheduler running in the background."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
from aether.tasks.v1 import tasks_service_pb2_grpc

from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.settings import PlatformSettings
from servers.platform.uow import PostgresUnitOfWork
from servers.tasks import mapping
from servers.tasks.assignees import AuthUserDirectory
from servers.tasks.queries import TaskQueries
from servers.tasks.scheduler import DueDateScheduler
from servers.tasks.service import TaskServicer
from servers.tasks.store import TaskRepository
from servers.tasks.usecases import TaskUseCases


class TasksSettings(PlatformSettings):
    # Seconds between due-date scheduler passes (0 disables the scheduler here).
    tasks_scheduler_interval_seconds: float = 30.0
    # How long before its due date a task gets its "task.due_soon" event.
    tasks_due_soon_window_seconds: int = 24 * 3600
    # Tasks claimed per scheduler transaction.
    tasks_scheduler_batch_size: int = 500


def unit_of_work(pool: asyncpg.Pool) -> PostgresUnitOfWork[TaskRepository]:
    """The Task Manager's unit of work: its repository and its event mapping."""
    return PostgresUnitOfWork(pool, source="tasks", repository=TaskRepository, to_event=mapping.to_event)


async def build(res: Resources) -> Mount:
    s = TasksSettings()
    if res.pool is None:
        raise SystemExit("the tasks service needs DATABASE_URL")
    uow = unit_of_work(res.pool)
    scheduler = DueDateScheduler(
        uow,
        timedelta(seconds=s.tasks_due_soon_window_seconds),
        s.tasks_scheduler_interval_seconds,
        s.tasks_scheduler_batch_size,
    )
    scheduler.start()
    servicer = TaskServicer(TaskUseCases(uow, TaskQueries(res.pool), AuthUserDirectory(res.clients)))
    return Mount(
        services=[
            Service(
                "aether.tasks.v1.TaskService",
                servicer,
                tasks_service_pb2_grpc.add_TaskServiceServicer_to_server,
            )
        ],
        on_stop=[scheduler.stop],
    )


DOMAIN = Domain(name="tasks", build=build, migrations=Path(__file__).with_name("migrations"))

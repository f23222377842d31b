"""Task Manager domain: tasks, comments, history, list queries, update rules and
the domain events. No I/O, no protobuf."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from servers.platform.errors import FieldViolation, InvalidArgument, PermissionDenied
from servers.platform.paging import PageRequest
from servers.platform.scoping import Viewer

STATUSES = ("pending", "in_progress", "completed", "blocked")
PRIORITIES = ("low", "medium", "high", "urgent")
COMPLETED = "completed"
DEFAULT_PRIORITY = "medium"

# Sort keys (JSON and snake_case spellings) -> SQL expression on the tasks table.
# Priority sorts by urgency (a stored rank column), not alphabetically.
SORT_COLUMNS: dict[str, str] = {
    "createdAt": "created_at",
    "created_at": "created_at",
    "updatedAt": "updated_at",
    "updated_at": "updated_at",
    "dueDate": "due_date",
    "due_date": "due_date",
    "priority": "priority_rank",
    "status": "status",
    "title": "title",
    "progress": "progress",
}


@dataclass(frozen=True)
class Comment:
    id: str
    task_id: str
    user_id: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Change:
    """One history entry. `from_value` / `to_value` are JSON values (None = null)."""

    action: str
    field: str
    from_value: Any
    to_value: Any
    user_id: str
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    description: str
    status: str
    priority: str
    category: str
    due_date: datetime | None
    tags: tuple[str, ...]
    assignee: str
    estimated_hours: float
    actual_hours: float
    progress: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    completed_at: datetime | None
    completed_by: str
    version: int
    comments: tuple[Comment, ...] = ()
    history: tuple[Change, ...] = ()

    def visible_to(self, viewer: Viewer) -> bool:
        return viewer.is_admin or viewer.user_id in (self.created_by, self.assignee)


@dataclass(frozen=True)
class NewTask:
    title: str
    description: str = ""
    priority: str = DEFAULT_PRIORITY
    category: str = ""
    due_date: datetime | None = None
    tags: tuple[str, ...] = ()
    assignee: str = ""
    estimated_hours: float = 0.0


@dataclass(frozen=True)
class TaskPatch:
    """The fields an update sends; None means "not sent"."""

    title: str | None = None
    description: str | None = None
    priority: str | None = None
    status: str | None = None
    category: str | None = None
    due_date: datetime | None = None
    clear_due_date: bool = False
    tags: tuple[str, ...] | None = None
    assignee: str | None = None
    estimated_hours: float | None = None
    actual_hours: float | None = None
    progress: int | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class ListQuery:
    status: str = ""
    priority: str = ""
    category: str = ""
    assignee: str = ""
    tags: tuple[str, ...] = ()
    due_before: datetime | None = None
    page: PageRequest = field(default_factory=PageRequest)
    sort: str = "created_at"  # an SQL column from SORT_COLUMNS
    descending: bool = True


@dataclass(frozen=True)
class Stats:
    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    completed: int
    average_completion_time_hours: float
    overdue: int

    @property
    def completion_rate(self) -> float:
        """Percentage (0-100) of the selected tasks that are completed."""
        return round(100.0 * self.completed / self.total, 2) if self.total else 0.0


# --- rules -------------------------------------------------------------------------
def clean_title(title: str, field_name: str = "title") -> str:
    """Titles are trimmed; a blank one is invalid (length bounds are proto rules)."""
    cleaned = title.strip()
    if not cleaned:
        raise InvalidArgument("title must not be blank", [FieldViolation(field_name, "must not be blank")])
    return cleaned


def parse_tags(value: str) -> tuple[str, ...]:
    """ "bug, ui,,bug" -> ("bug", "ui"): trimmed, empty parts dropped, de-duplicated."""
    seen: dict[str, None] = {}
    for part in value.split(","):
        if part.strip():
            seen[part.strip()] = None
    return tuple(seen)


def build_list_query(
    *,
    status: str,
    priority: str,
    category: str,
    assignee: str,
    tags: str,
    due_before: datetime | None,
    page: int,
    limit: int,
    sort: str,
    order: str,
) -> ListQuery:
    """Apply defaults and check what the proto rules could not (they already
    reject unknown statuses, priorities, sort fields, orders and limit > 100)."""
    if sort and sort not in SORT_COLUMNS:
        raise InvalidArgument(f"unknown sort field {sort!r}", [FieldViolation("sort", "unknown sort field")])
    return ListQuery(
        status=status,
        priority=priority,
        category=category,
        assignee=assignee,
        tags=parse_tags(tags),
        due_before=due_before,
        page=PageRequest.of(page, limit),
        sort=SORT_COLUMNS[sort or "createdAt"],
        descending=order != "asc",
    )


def _json(value: Any) -> Any:
    """A field value as it is recorded in the history (JSON)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return list(value)
    return value


# Domain field name -> JSON name used in history entries.
_JSON_NAMES = {
    "title": "title",
    "description": "description",
    "priority": "priority",
    "status": "status",
    "category": "category",
    "due_date": "dueDate",
    "tags": "tags",
    "assignee": "assignee",
    "estimated_hours": "estimatedHours",
    "actual_hours": "actualHours",
    "progress": "progress",
}


# What an assignee (neither the creator nor an admin) may change: the progress
# of the work. What the task is, when it is due and who does it stay the
# creator's; an assignee cannot hand the task to someone else.
ASSIGNEE_MAY_CHANGE = frozenset({"status", "progress", "actual_hours"})


def check_assignee_patch(patch: TaskPatch) -> None:
    """PermissionDenied naming the fields an assignee sent but may not change."""
    sent = {name for name in _JSON_NAMES if getattr(patch, name, None) is not None}
    if patch.clear_due_date:
        sent.add("due_date")
    refused = sorted(_JSON_NAMES[name] for name in sent - ASSIGNEE_MAY_CHANGE)
    if refused:
        raise PermissionDenied(
            f"as the assignee you may change only status, progress and actualHours, not {', '.join(refused)}",
            {"fields": ",".join(refused)},
        )


def is_user_id(value: str) -> bool:
    """User ids are UUIDs (servers/auth)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def apply_patch(task: Task, patch: TaskPatch, actor: str, now: datetime) -> tuple[Task, list[Change]]:
    """The task after the patch and one Change per field that really changed.
    Entering "completed" sets completedAt/By and progress 100 (unless progress
    is sent too); leaving it clears them. No change -> (task, [])."""
    wanted: dict[str, Any] = {
        name: getattr(patch, name)
        for name in _JSON_NAMES
        if name not in ("due_date", "tags") and getattr(patch, name) is not None
    }
    if "title" in wanted:
        wanted["title"] = clean_title(wanted["title"])
    if patch.clear_due_date:
        wanted["due_date"] = None
    elif patch.due_date is not None:
        wanted["due_date"] = patch.due_date
    if patch.tags is not None:
        wanted["tags"] = patch.tags

    changes: list[Change] = []
    updated: dict[str, Any] = {}
    for name, value in wanted.items():
        old = getattr(task, name)
        if old == value:
            continue
        updated[name] = value
        action = "updated"
        if name == "status":
            action = "completed" if value == COMPLETED else "reopened" if old == COMPLETED else "updated"
        changes.append(Change(action, _JSON_NAMES[name], _json(old), _json(value), actor, now))
    if not changes:
        return task, []
    if updated.get("status") == COMPLETED:
        updated |= {"completed_at": now, "completed_by": actor}
        if "progress" not in wanted and task.progress != 100:
            updated["progress"] = 100
            changes.append(Change("updated", "progress", task.progress, 100, actor, now))
    elif "status" in updated and task.status == COMPLETED:
        updated |= {"completed_at": None, "completed_by": ""}
    return replace(task, **updated, updated_at=now, version=task.version + 1), changes


def due_date_changed(changes: list[Change]) -> bool:
    return any(c.field == "dueDate" for c in changes)


# --- domain events (servers.tasks.mapping.to_event maps them to aether.tasks.v1) ---
@dataclass(frozen=True)
class TaskCreated:
    task: Task


@dataclass(frozen=True)
class TaskUpdated:
    task: Task
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class TaskCompleted:
    task: Task


@dataclass(frozen=True)
class TaskDeleted:
    task: Task
    deleted_by: str


@dataclass(frozen=True)
class TaskDueSoon:
    """The due date is within the scheduler's window (sent once per due date)."""

    task: Task
    at: datetime


@dataclass(frozen=True)
class TaskOverdue:
    """The due date passed with the task not completed (sent once per due date)."""

    task: Task
    at: datetime


TaskEvent = TaskCreated | TaskUpdated | TaskCompleted | TaskDeleted | TaskDueSoon | TaskOverdue

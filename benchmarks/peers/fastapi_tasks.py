"""The Task Manager's get / list / create written the ordinary way, as the
yardstick of benchmarks/side_by_side.py: FastAPI + uvicorn (uvloop, httptools,
no access log), one pooled asyncpg pool per worker, a PyJWT HS256 bearer check,
pydantic response models, owner-scoped queries on its own schema (`peer`, a
copy of tasks.tasks / history / comments with the same indexes) in the same
PostgreSQL.

    PEER_DSN=postgresql://... PEER_JWT_SECRET=... \\
      uvicorn benchmarks.peers.fastapi_tasks:app --workers 2 --loop uvloop --http httptools --no-access-log

Needs the `bench` extra (pip install -e '.[bench]').
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel, Field

SECRET = os.environ.get("PEER_JWT_SECRET", "")
COLUMNS = """id, title, description, status, priority, category, due_date, tags, assignee,
    estimated_hours, actual_hours, progress, created_at, created_by, updated_at,
    completed_at, completed_by, version"""


class Comment(BaseModel):
    id: str
    userId: str
    text: str
    createdAt: datetime


class HistoryEntry(BaseModel):
    action: str
    field: str | None
    userId: str
    timestamp: datetime


class Task(BaseModel):
    id: str
    title: str
    description: str
    status: str
    priority: str
    category: str
    dueDate: datetime | None
    tags: list[str]
    assignee: str
    estimatedHours: float
    actualHours: float
    progress: int
    createdAt: datetime
    createdBy: str
    updatedAt: datetime
    completedAt: datetime | None
    completedBy: str
    version: int
    comments: list[Comment] = []
    history: list[HistoryEntry] = []


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    totalPages: int


class TaskList(BaseModel):
    tasks: list[Task]
    pagination: Pagination


class NewTask(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    priority: str = Field("medium", pattern="^(low|medium|high|urgent)$")
    category: str = Field("", max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=20)
    estimatedHours: float = Field(0, ge=0, le=10_000)


pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["PEER_DSN"], min_size=4, max_size=16)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


def user(authorization: Annotated[str, Header()] = "") -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token")
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="aether")
    except jwt.PyJWTError as error:
        raise HTTPException(401, "invalid token") from error
    return str(claims["sub"])


def to_task(row: asyncpg.Record, comments: list[Any] = (), history: list[Any] = ()) -> Task:  # type: ignore[assignment]
    return Task(
        id=str(row["id"]),
        title=row["title"],
        description=row["description"],
        status=row["status"],
        priority=row["priority"],
        category=row["category"],
        dueDate=row["due_date"],
        tags=row["tags"],
        assignee=row["assignee"],
        estimatedHours=row["estimated_hours"],
        actualHours=row["actual_hours"],
        progress=row["progress"],
        createdAt=row["created_at"],
        createdBy=row["created_by"],
        updatedAt=row["updated_at"],
        completedAt=row["completed_at"],
        completedBy=row["completed_by"],
        version=row["version"],
        comments=[
            Comment(id=str(c["id"]), userId=c["user_id"], text=c["text"], createdAt=c["created_at"])
            for c in comments
        ],
        history=[
            HistoryEntry(action=h["action"], field=h["field"], userId=h["user_id"], timestamp=h["created_at"])
            for h in history
        ],
    )


@app.get("/api/v1/tasks/{task_id}", response_model=Task)
async def get_task(task_id: uuid.UUID, me: Annotated[str, Depends(user)]) -> Task:
    assert pool is not None
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM peer.tasks WHERE id = $1 AND (created_by = $2 OR assignee = $2)",  # noqa: S608
            task_id,
            me,
        )
        if row is None:
            raise HTTPException(404, "task not found")
        comments = await conn.fetch(
            "SELECT id, user_id, text, created_at FROM peer.comments WHERE task_id = $1 ORDER BY created_at",
            task_id,
        )
        history = await conn.fetch(
            "SELECT action, field, user_id, created_at FROM peer.history WHERE task_id = $1 ORDER BY id",
            task_id,
        )
    return to_task(row, comments, history)


@app.get("/api/v1/tasks", response_model=TaskList)
async def list_tasks(
    me: Annotated[str, Depends(user)],
    status: str | None = None,
    priority: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TaskList:
    assert pool is not None
    args: list[Any] = [me]
    filters = ""
    for column, value in (("status", status), ("priority", priority)):
        if value:
            args.append(value)
            filters += f" AND {column} = ${len(args)}"
    # Owner scope as two index scans (created by me, assigned to me), like Aether's.
    visible = (
        f"SELECT id, created_at FROM peer.tasks WHERE created_by = $1{filters} UNION ALL "  # noqa: S608
        f"SELECT id, created_at FROM peer.tasks WHERE assignee = $1 AND created_by <> $1{filters}"
    )
    args += [limit, (page - 1) * limit]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"""WITH page AS (SELECT id, created_at, count(*) OVER () AS total FROM ({visible}) v
                              ORDER BY created_at DESC, id DESC LIMIT ${len(args) - 1} OFFSET ${len(args)})
                SELECT {", ".join("t." + c.strip() for c in COLUMNS.split(","))}, page.total
                FROM page JOIN peer.tasks t ON t.id = page.id
                ORDER BY page.created_at DESC, page.id DESC""",  # noqa: S608
            *args,
        )
    total = rows[0]["total"] if rows else 0
    return TaskList(
        tasks=[to_task(r) for r in rows],
        pagination=Pagination(page=page, limit=limit, total=total, totalPages=-(-total // limit)),
    )


@app.post("/api/v1/tasks", response_model=Task)
async def create_task(new: NewTask, me: Annotated[str, Depends(user)]) -> Task:
    assert pool is not None
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""INSERT INTO peer.tasks (id, title, description, priority, category, tags,
                    estimated_hours, created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}""",  # noqa: S608
            uuid.uuid4(),
            new.title,
            new.description,
            new.priority,
            new.category,
            new.tags,
            new.estimatedHours,
            me,
        )
        assert row is not None
        await conn.execute(
            "INSERT INTO peer.history (task_id, action, user_id, created_at) VALUES ($1, 'created', $2, $3)",
            row["id"],
            me,
            row["created_at"],
        )
    return to_task(row)

CREATE SCHEMA IF NOT EXISTS tasks;

-- User ids (created_by, assignee, ...) are the auth service's ids as text: each
-- service owns its tables, so there is no cross-schema foreign key.
CREATE TABLE tasks.tasks (
    id                   uuid             PRIMARY KEY,
    title                text             NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description          text             NOT NULL DEFAULT '',
    status               text             NOT NULL DEFAULT 'pending'
                                          CHECK (status IN ('pending', 'in_progress', 'completed', 'blocked')),
    priority             text             NOT NULL DEFAULT 'medium'
                                          CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    -- Sorting by priority means by urgency, not alphabetically.
    priority_rank        smallint         GENERATED ALWAYS AS (
                                              CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2
                                                            WHEN 'high' THEN 3 ELSE 4 END) STORED,
    category             text             NOT NULL DEFAULT '',
    due_date             timestamptz,
    tags                 text[]           NOT NULL DEFAULT '{}',
    assignee             text             NOT NULL DEFAULT '',
    estimated_hours      double precision NOT NULL DEFAULT 0,
    actual_hours         double precision NOT NULL DEFAULT 0,
    progress             integer          NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    created_at           timestamptz      NOT NULL DEFAULT now(),
    created_by           text             NOT NULL,
    updated_at           timestamptz      NOT NULL DEFAULT now(),
    completed_at         timestamptz,
    completed_by         text             NOT NULL DEFAULT '',
    version              integer          NOT NULL DEFAULT 1,
    -- Idempotency key of the create, scoped to the creator.
    request_id           text,
    -- Set by the scheduler in the same transaction as the outbox event; reset
    -- when the due date changes so the events fire again for the new date.
    due_soon_notified_at timestamptz,
    overdue_notified_at  timestamptz
);

-- Owner scoping. A user's tasks are "created by me" UNION ALL "assigned to me
-- (and not created by me)", one branch per index below. Both cover every
-- filter, sort key and stats column except title/description, so a user's
-- list page (ids, count, sort) and stats are index-only scans over that
-- user's entries, never a visit to ~1,500 scattered heap pages; only the 20
-- rows of the page are then read from the table.
CREATE INDEX tasks_created_by ON tasks.tasks (created_by, created_at DESC, id DESC)
    INCLUDE (status, priority, priority_rank, category, assignee, due_date, updated_at, progress,
             completed_at, tags);
CREATE INDEX tasks_assignee ON tasks.tasks (assignee, created_at DESC, id DESC)
    INCLUDE (status, priority, priority_rank, category, created_by, due_date, updated_at, progress,
             completed_at, tags)
    WHERE assignee <> '';
-- Admin lists (all users) sorted by the common keys, ties broken by id.
CREATE INDEX tasks_created_at ON tasks.tasks (created_at DESC, id DESC);
CREATE INDEX tasks_due_date ON tasks.tasks (due_date, id) WHERE due_date IS NOT NULL;
-- "any of these tags" (tags && ARRAY[...]).
CREATE INDEX tasks_tags ON tasks.tasks USING gin (tags);
CREATE UNIQUE INDEX tasks_request_id ON tasks.tasks (created_by, request_id) WHERE request_id IS NOT NULL;
-- The scheduler's two scans: only uncompleted, not-yet-notified tasks with a due date.
CREATE INDEX tasks_due_soon_pending ON tasks.tasks (due_date)
    WHERE due_date IS NOT NULL AND due_soon_notified_at IS NULL AND status <> 'completed';
CREATE INDEX tasks_overdue_pending ON tasks.tasks (due_date)
    WHERE due_date IS NOT NULL AND overdue_notified_at IS NULL AND status <> 'completed';

CREATE TABLE tasks.comments (
    id         uuid        PRIMARY KEY,
    task_id    uuid        NOT NULL REFERENCES tasks.tasks (id) ON DELETE CASCADE,
    user_id    text        NOT NULL,
    text       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    request_id text
);
CREATE INDEX comments_task ON tasks.comments (task_id, created_at);
CREATE UNIQUE INDEX comments_request_id ON tasks.comments (user_id, request_id) WHERE request_id IS NOT NULL;

-- Every change, written in the same transaction as the change itself.
CREATE TABLE tasks.history (
    id         bigserial   PRIMARY KEY,
    task_id    uuid        NOT NULL REFERENCES tasks.tasks (id) ON DELETE CASCADE,
    action     text        NOT NULL,
    field      text        NOT NULL DEFAULT '',
    from_value jsonb,
    to_value   jsonb,
    user_id    text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX history_task ON tasks.history (task_id, id);

"""Task Manager domain rules: partial updates and their history, completion
bookkeeping, list query defaults and limits, pagination, stats."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from servers.platform.errors import InvalidArgument
from servers.platform.paging import Page, PageRequest
from servers.platform.scoping import Viewer
from servers.tasks.domain import (
    Stats,
    Task,
    TaskPatch,
    apply_patch,
    build_list_query,
    clean_title,
    due_date_changed,
    parse_tags,
)

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
TASK = Task(
    id="t1",
    title="Write docs",
    description="",
    status="pending",
    priority="medium",
    category="",
    due_date=None,
    tags=("docs",),
    assignee="",
    estimated_hours=2.0,
    actual_hours=0.0,
    progress=0,
    created_at=datetime(2030, 5, 1, 10, 0, tzinfo=UTC),
    created_by="alice",
    updated_at=datetime(2030, 5, 1, 10, 0, tzinfo=UTC),
    completed_at=None,
    completed_by="",
    version=1,
)


def query(**overrides: object):
    args: dict = dict(
        status="",
        priority="",
        category="",
        assignee="",
        tags="",
        due_before=None,
        page=0,
        limit=0,
        sort="",
        order="",
    )
    return build_list_query(**(args | overrides))


def test_only_sent_fields_change_and_each_is_recorded() -> None:
    after, changes = apply_patch(TASK, TaskPatch(priority="high", due_date=NOW, tags=("a", "b")), "bob", NOW)
    assert (after.priority, after.due_date, after.tags) == ("high", NOW, ("a", "b"))
    assert (after.title, after.created_by, after.created_at) == (TASK.title, "alice", TASK.created_at)
    assert (after.version, after.updated_at) == (2, NOW)
    assert [(c.field, c.from_value, c.to_value, c.user_id) for c in changes] == [
        ("priority", "medium", "high", "bob"),
        ("dueDate", None, "2030-05-01T12:00:00Z", "bob"),
        ("tags", ["docs"], ["a", "b"], "bob"),
    ]
    assert due_date_changed(changes)


def test_an_update_that_changes_nothing_is_a_no_op() -> None:
    after, changes = apply_patch(TASK, TaskPatch(title="Write docs", tags=("docs",)), "bob", NOW)
    assert after is TASK and changes == []


def test_completing_sets_completion_and_reopening_clears_it() -> None:
    done, changes = apply_patch(TASK, TaskPatch(status="completed"), "bob", NOW)
    assert (done.completed_at, done.completed_by, done.progress) == (NOW, "bob", 100)
    assert [(c.action, c.field) for c in changes] == [("completed", "status"), ("updated", "progress")]
    reopened, changes = apply_patch(done, TaskPatch(status="in_progress"), "carol", NOW)
    assert (reopened.completed_at, reopened.completed_by) == (None, "")
    assert [c.action for c in changes] == ["reopened"]


def test_clearing_the_due_date_and_blank_titles() -> None:
    dated = replace(TASK, due_date=NOW)
    after, changes = apply_patch(dated, TaskPatch(clear_due_date=True), "a", NOW)
    assert after.due_date is None and changes[0].to_value is None
    with pytest.raises(InvalidArgument) as err:
        apply_patch(TASK, TaskPatch(title="  "), "a", NOW)
    assert err.value.violations[0].field == "title"
    assert clean_title("  x ") == "x"


def test_visibility_is_creator_assignee_or_admin() -> None:
    task = replace(TASK, assignee="bob")
    assert task.visible_to(Viewer("alice")) and task.visible_to(Viewer("bob"))
    assert not task.visible_to(Viewer("mallory")) and task.visible_to(Viewer("root", is_admin=True))


def test_list_query_defaults_and_mapping() -> None:
    q = query()
    assert (q.page, q.sort, q.descending) == (PageRequest(1, 20), "created_at", True)
    assert q.page.offset == 0
    q = query(page=3, limit=50, sort="priority", order="asc", tags=" bug, ui,,bug ")
    assert (q.page.offset, q.sort, q.descending, q.tags) == (100, "priority_rank", False, ("bug", "ui"))
    assert query(sort="dueDate").sort == query(sort="due_date").sort == "due_date"
    assert parse_tags("") == ()


@pytest.mark.parametrize(("overrides", "field"), [({"limit": 101}, "limit"), ({"sort": "id; --"}, "sort")])
def test_list_query_rejects_what_it_cannot_serve(overrides: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        query(**overrides)
    assert err.value.violations[0].field == field


def test_pagination_and_completion_rate() -> None:
    page: Page[object] = Page([], total=41, request=PageRequest(2, 20))
    assert (page.total_pages, page.has_next, page.has_prev) == (3, True, True)
    empty: Page[object] = Page([], 0, PageRequest())
    assert (empty.total_pages, empty.has_next) == (0, False)
    stats = Stats(3, {}, {}, completed=1, average_completion_time_hours=0, overdue=0)
    assert stats.completion_rate == 33.33
    assert Stats(0, {}, {}, 0, 0, 0).completion_rate == 0

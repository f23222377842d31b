"""The one page shape of every List response (aether.common.v1.Pagination)."""

from __future__ import annotations

from typing import Any

from aether.common.v1 import pagination_pb2

from servers.platform.paging import Page


def pagination(page: Page[Any]) -> pagination_pb2.Pagination:
    return pagination_pb2.Pagination(
        total=page.total,
        page=page.request.page,
        limit=page.request.limit,
        total_pages=page.total_pages,
        has_next=page.has_next,
        has_prev=page.has_prev,
    )

"""The one page shape of every List RPC (aether.common.v1.Pagination)."""

from __future__ import annotations

from aether.common.v1 import pagination_pb2


def page_count(total: int, limit: int) -> int:
    """Pages needed for `total` items at `limit` per page (0 when there are none)."""
    return -(-total // limit) if total > 0 else 0


def pagination(total: int, page: int, limit: int) -> pagination_pb2.Pagination:
    pages = page_count(total, limit)
    return pagination_pb2.Pagination(
        total=total, page=page, limit=limit, total_pages=pages, has_next=page < pages, has_prev=page > 1
    )

"""The one page request of every List RPC: defaults, limits, offsets, and the
page that answers it. No protobuf here (servers.platform.pagination maps it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from servers.platform.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """Page `page` (1-based) of `limit` items."""

    page: int = 1
    limit: int = DEFAULT_PAGE_SIZE

    @classmethod
    def of(cls, page: int, limit: int, *, max_limit: int = MAX_PAGE_SIZE) -> PageRequest:
        """From a request's fields: 0 means the default; limit above `max_limit`
        is INVALID_ARGUMENT (the proto rules usually reject it first)."""
        if limit > max_limit:
            raise InvalidArgument(
                f"limit must be at most {max_limit}",
                [FieldViolation("limit", f"must be at most {max_limit}")],
            )
        if limit < 0 or page < 0:
            raise InvalidArgument(
                "page and limit must not be negative",
                [FieldViolation("page" if page < 0 else "limit", "must not be negative")],
            )
        return cls(page=max(page, 1), limit=limit or DEFAULT_PAGE_SIZE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def slice(self, items: Sequence[T]) -> Page[T]:
        """This page of an in-memory sequence (for small, computed lists)."""
        return Page(list(items[self.offset : self.offset + self.limit]), len(items), self)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the total across all pages."""

    items: list[T]
    total: int
    request: PageRequest

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.request.limit) if self.total > 0 else 0

    @property
    def has_next(self) -> bool:
        return self.request.page < self.total_pages

    @property
    def has_prev(self) -> bool:
        return self.request.page > 1

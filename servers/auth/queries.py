"""Reads of the auth service outside a transaction (schema `auth`)."""

from __future__ import annotations

import re
import uuid

import asyncpg

from servers.auth.domain import User
from servers.auth.store import USER_COLUMNS, user_from_row
from servers.platform.paging import Page, PageRequest


class AuthQueries:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def user_with_hash(self, email: str) -> tuple[User, str] | None:
        """The user with this (normalized) email and their password hash."""
        row = await self.pool.fetchrow(
            f"SELECT {USER_COLUMNS}, password_hash FROM auth.users WHERE email = $1",  # noqa: S608
            email,
        )
        return (user_from_row(row), row["password_hash"]) if row else None

    async def get_user(self, user_id: str) -> User | None:
        try:
            key = uuid.UUID(user_id)
        except ValueError:  # a validly signed token whose subject is not a user id
            return None
        row = await self.pool.fetchrow(
            f"SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1",  # noqa: S608
            key,
        )
        return user_from_row(row) if row else None

    async def list_users(self, email_contains: str, page: PageRequest) -> Page[User]:
        """A page of accounts, newest first; `email_contains` matched literally."""
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", email_contains.lower()) + "%"
        rows = await self.pool.fetch(
            f"""SELECT {USER_COLUMNS}, count(*) OVER () AS total FROM auth.users
                WHERE email LIKE $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3""",  # noqa: S608
            pattern,
            page.limit,
            page.offset,
        )
        total = rows[0]["total"] if rows else await self._count(pattern)
        return Page([user_from_row(r) for r in rows], total, page)

    async def _count(self, pattern: str) -> int:
        """The total when the page is past the end (no row carries it)."""
        return int(await self.pool.fetchval("SELECT count(*) FROM auth.users WHERE email LIKE $1", pattern))

    async def active_user_ids(self, user_ids: list[str]) -> set[str]:
        """Those of `user_ids` that are existing accounts, not disabled."""
        rows = await self.pool.fetch(
            "SELECT id FROM auth.users WHERE id = ANY($1::uuid[]) AND disabled_at IS NULL",
            [uuid.UUID(i) for i in user_ids],
        )
        return {str(r["id"]) for r in rows}

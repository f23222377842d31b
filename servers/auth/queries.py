"""Reads of the auth service outside a transaction (schema `auth`)."""

from __future__ import annotations

import uuid

import asyncpg

from servers.auth.domain import User
from servers.auth.store import USER_COLUMNS, user_from_row


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

"""The bootstrap admin: on a first start (no account has the admin role yet)
the auth service creates BOOTSTRAP_ADMIN_EMAIL with the admin role. An
existing account with that email is never promoted (anyone could have
registered it first); the operator then uses `aether users create` or SQL."""

from __future__ import annotations

import logging

import asyncpg

from servers.auth.admin import create_account
from servers.auth.usecases import AuthWrites
from servers.platform.errors import AlreadyExists
from servers.platform.uow import UnitOfWork

log = logging.getLogger("aether.auth")


async def ensure_bootstrap_admin(
    pool: asyncpg.Pool, uow: UnitOfWork[AuthWrites], email: str, password: str
) -> None:
    async with pool.acquire() as conn:
        # One replica at a time, so two starting together create one admin.
        await conn.execute("SELECT pg_advisory_lock(hashtext('auth.bootstrap_admin'))")
        try:
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM auth.users WHERE 'admin' = ANY (roles))"):
                return
            try:
                await create_account(uow, email, password, "Administrator", ("admin",))
                log.warning("bootstrap admin created", extra={"email": email})
            except AlreadyExists:
                log.error(
                    "bootstrap admin not created: the email is already registered to a non-admin account"
                )
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('auth.bootstrap_admin'))")

"""Account administration: list users, set roles, disable/enable, revoke all
sessions, delete (UserAdminService), and creating an account with any roles
(`create_account`: `aether users create`, the bootstrap admin). Every change that narrows a
user's rights starts their token epoch after it commits, so their access
tokens issued before it are refused on the next request."""

from __future__ import annotations

import asyncio
from typing import Protocol

from argon2 import PasswordHasher

from servers.auth.domain import (
    ROLES,
    User,
    UserChanged,
    UserRegistered,
    check_password_strength,
    normalize_email,
)
from servers.auth.usecases import AuthWrites, RevokedTokens
from servers.platform.context import Principal
from servers.platform.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from servers.platform.paging import Page, PageRequest
from servers.platform.uow import UnitOfWork


class UserDirectory(Protocol):
    """Account reads (servers.auth.queries.AuthQueries)."""

    async def list_users(self, email_contains: str, page: PageRequest) -> Page[User]: ...
    async def get_user(self, user_id: str) -> User | None: ...


def _check_roles(roles: tuple[str, ...]) -> None:
    unknown = sorted(set(roles) - ROLES)
    if unknown or not roles:
        raise InvalidArgument(
            f"unknown roles: {', '.join(unknown)}" if unknown else "at least one role is needed",
            [FieldViolation("roles", f"must be among {', '.join(sorted(ROLES))}")],
        )


class AdminUseCases:
    def __init__(
        self,
        uow: UnitOfWork[AuthWrites],
        users: UserDirectory,
        revoked: RevokedTokens,
    ):
        self._uow = uow
        self._users = users
        self._revoked = revoked

    async def list_users(self, email_contains: str, page: PageRequest) -> Page[User]:
        return await self._users.list_users(email_contains.strip(), page)

    async def set_roles(self, admin: Principal, user_id: str, roles: tuple[str, ...]) -> User:
        _check_roles(roles)
        if user_id == admin.user_id and "admin" not in roles:
            raise FailedPrecondition("you cannot remove your own admin role; ask another administrator")
        async with self._uow() as tx:
            user = await tx.repo.set_roles(user_id, tuple(sorted(set(roles))))
            if user is None:
                raise NotFound("user not found")
            tx.record(UserChanged("user.roles_changed", user.id, user.roles, admin.user_id))
        await self._revoked.start_epoch(user.id)
        return user

    async def set_disabled(self, admin: Principal, user_id: str, disabled: bool) -> User:
        if disabled and user_id == admin.user_id:
            raise FailedPrecondition("you cannot disable your own account")
        async with self._uow() as tx:
            user = await tx.repo.set_disabled(user_id, disabled)
            if user is None:
                raise NotFound("user not found")
            if disabled:
                await tx.repo.revoke_all_families(user.id)
            change = "user.disabled" if disabled else "user.enabled"
            tx.record(UserChanged(change, user.id, user.roles, admin.user_id))
        if disabled:
            await self._revoked.start_epoch(user.id)
        return user

    async def revoke_sessions(self, admin: Principal, user_id: str) -> int:
        if await self._users.get_user(user_id) is None:
            raise NotFound("user not found")
        async with self._uow() as tx:
            ended = await tx.repo.revoke_all_families(user_id)
        await self._revoked.start_epoch(user_id)
        return ended

    async def delete(self, admin: Principal, user_id: str) -> None:
        if user_id == admin.user_id:
            raise FailedPrecondition("you cannot delete your own account")
        async with self._uow() as tx:
            if not await tx.repo.delete_user(user_id):
                raise NotFound("user not found")
            tx.record(UserChanged("user.deleted", user_id, (), admin.user_id))
        await self._revoked.start_epoch(user_id)


async def create_account(
    uow: UnitOfWork[AuthWrites],
    email: str,
    password: str,
    name: str,
    roles: tuple[str, ...],
    hasher: PasswordHasher | None = None,
) -> User:
    """An account with the given roles, for operators only (`aether users
    create`, the bootstrap admin), never an RPC."""
    _check_roles(roles)
    email = normalize_email(email)
    check_password_strength(password, email)
    password_hash = await asyncio.to_thread((hasher or PasswordHasher()).hash, password)
    async with uow() as tx:
        user = await tx.repo.insert_user(email, name.strip(), password_hash, tuple(sorted(set(roles))))
        if user is None:
            raise AlreadyExists(
                "an account with this email already exists", [FieldViolation("email", "taken")]
            )
        tx.record(UserRegistered(user))
    return user

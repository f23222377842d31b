"""Admin bootstrap and UserAdminService over native gRPC and through the real
Envoy: `aether users create`, the bootstrap admin, listing, roles, disable,
revoking sessions and deletion, each biting on the user's next request (the
token epoch), as do logout of all sessions and refresh-token reuse."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import httpx
import pytest
from aether.auth.v1 import auth_service_pb2 as auth_pb
from aether.auth.v1 import auth_service_pb2_grpc, user_admin_service_pb2_grpc
from aether.auth.v1 import user_admin_service_pb2 as pb
from aether.tasks.v1 import tasks_service_pb2 as tasks_pb
from aether.tasks.v1 import tasks_service_pb2_grpc

from tests.conftest import dsn_for
from tests.helpers import STRONG_PASSWORD, bearer, eventually, rich_error, unique_email


async def aether_cli(*args: str, stdin: str = "") -> tuple[int, str]:
    """Run the `aether` CLI against the test database (off the event loop, which
    serves the in-process servers meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "servers.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]},
    )
    out, _ = await proc.communicate(stdin.encode())
    return proc.returncode or 0, out.decode()


class Session:
    def __init__(self, channel: grpc.aio.Channel, login: auth_pb.LoginResponse):
        self.login = login
        self.md = bearer(login.access_token)
        self.auth = auth_service_pb2_grpc.AuthServiceStub(channel)
        self.admin = user_admin_service_pb2_grpc.UserAdminServiceStub(channel)
        self.tasks = tasks_service_pb2_grpc.TaskServiceStub(channel)

    @property
    def user_id(self) -> str:
        return self.login.user.id

    async def works(self) -> bool:
        """Whether the session's access token is still accepted (a task write)."""
        try:
            await self.tasks.CreateTask(tasks_pb.CreateTaskRequest(title="probe"), metadata=self.md)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
            return False
        return True

    async def refused(self) -> bool:
        """Whether the token is refused, allowing for the revocation feed's window."""

        async def refused_now() -> bool:
            return not await self.works()

        return await eventually(refused_now)


async def log_in(channel: grpc.aio.Channel, email: str, password: str = STRONG_PASSWORD) -> Session:
    stub = auth_service_pb2_grpc.AuthServiceStub(channel)
    return Session(channel, await stub.Login(auth_pb.LoginRequest(email=email, password=password)))


async def new_user(channel: grpc.aio.Channel, email: str | None = None) -> Session:
    email = email or unique_email("member")
    stub = auth_service_pb2_grpc.AuthServiceStub(channel)
    await stub.Register(auth_pb.RegisterRequest(email=email, password=STRONG_PASSWORD, name="Member"))
    return await log_in(channel, email)


@pytest.fixture(scope="module")
async def admin_email(auth_server: str) -> str:
    """An admin made the documented way: `aether users create --role admin`."""
    email = unique_email("admin")
    code, out = await aether_cli(
        "users",
        "create",
        "--email",
        email,
        "--role",
        "admin",
        "--password-stdin",
        stdin=STRONG_PASSWORD + "\n",
    )
    assert code == 0, out
    assert f"created {email}" in out and "admin" in out
    return email


@pytest.fixture
async def admin(auth_channel: grpc.aio.Channel, admin_email: str) -> Session:
    return await log_in(auth_channel, admin_email)


async def test_cli_created_admin_holds_users_admin(admin: Session) -> None:
    assert list(admin.login.user.roles) == ["admin"] and "users:admin" in admin.login.user.permissions
    code, out = await aether_cli(
        "users",
        "create",
        "--email",
        admin.login.user.email,
        "--role",
        "admin",
        "--password-stdin",
        stdin=STRONG_PASSWORD + "\n",
    )
    assert code != 0 and "already exists" in out
    code, out = await aether_cli(
        "users", "create", "--email", unique_email(), "--role", "admin", "--password-stdin", stdin="short\n"
    )
    assert code != 0 and "password" in out


async def test_bootstrap_admin_is_created_once_on_a_fresh_database() -> None:
    from servers.auth import mapping
    from servers.auth.bootstrap import ensure_bootstrap_admin
    from servers.auth.main import DOMAIN
    from servers.auth.store import AuthRepository
    from servers.platform import events
    from servers.platform.db import migrate
    from servers.platform.uow import PostgresUnitOfWork

    name = f"aether_bootstrap_{uuid.uuid4().hex[:8]}"
    admin_conn = await asyncpg.connect(dsn_for("postgres"))
    await admin_conn.execute(f'CREATE DATABASE "{name}"')
    try:
        pool = await asyncpg.create_pool(dsn_for(name), min_size=1, max_size=3)
        try:
            await migrate(pool, "platform", events.MIGRATIONS)
            assert DOMAIN.migrations is not None
            await migrate(pool, "auth", DOMAIN.migrations)
            uow = PostgresUnitOfWork(
                pool, source="auth", repository=AuthRepository, to_event=mapping.to_event
            )
            await ensure_bootstrap_admin(pool, uow, "root@example.com", STRONG_PASSWORD)
            await ensure_bootstrap_admin(pool, uow, "second@example.com", STRONG_PASSWORD)  # one exists now
            rows = await pool.fetch("SELECT email, roles FROM auth.users")
            assert [(r["email"], list(r["roles"])) for r in rows] == [("root@example.com", ["admin"])]
        finally:
            await pool.close()
    finally:
        await admin_conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin_conn.close()


async def test_list_users_is_paginated_filtered_and_admin_only(
    auth_channel: grpc.aio.Channel, admin: Session
) -> None:
    tag = uuid.uuid4().hex[:8]
    for i in range(3):
        await new_user(auth_channel, f"list-{tag}-{i}@example.com")
    page = await admin.admin.ListUsers(pb.ListUsersRequest(email_contains=tag, limit=2), metadata=admin.md)
    assert len(page.users) == 2 and page.pagination.total == 3 and page.pagination.has_next
    assert page.users[0].email == f"list-{tag}-2@example.com"  # newest first
    rest = await admin.admin.ListUsers(
        pb.ListUsersRequest(email_contains=tag, limit=2, page=2), metadata=admin.md
    )
    assert [u.email for u in rest.users] == [f"list-{tag}-0@example.com"]
    none = await admin.admin.ListUsers(pb.ListUsersRequest(email_contains="%", limit=2), metadata=admin.md)
    assert none.pagination.total == 0  # LIKE wildcards are literal

    member = await new_user(auth_channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await member.admin.ListUsers(pb.ListUsersRequest(), metadata=member.md)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_role_change_bites_on_the_next_request(auth_channel: grpc.aio.Channel, admin: Session) -> None:
    member = await new_user(auth_channel)
    assert await member.works()
    changed = await admin.admin.SetUserRoles(
        pb.SetUserRolesRequest(user_id=member.user_id, roles=["guest"]), metadata=admin.md
    )
    assert list(changed.roles) == ["guest"] and "tasks:write" not in changed.permissions
    assert await member.refused()  # the old token (with tasks:write) is refused
    again = await log_in(auth_channel, member.login.user.email)
    assert list(again.login.user.roles) == ["guest"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # the new token is accepted, with guest rights
        await again.tasks.CreateTask(tasks_pb.CreateTaskRequest(title="x"), metadata=again.md)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    me = await again.auth.GetMe(auth_pb.GetMeRequest(), metadata=again.md)
    assert me.id == member.user_id

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.admin.SetUserRoles(
            pb.SetUserRolesRequest(user_id=member.user_id, roles=["root"]), metadata=admin.md
        )
    assert (
        caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and rich_error(caught.value).field_violations
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.admin.SetUserRoles(
            pb.SetUserRolesRequest(user_id=admin.user_id, roles=["user"]), metadata=admin.md
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.admin.SetUserRoles(
            pb.SetUserRolesRequest(user_id=str(uuid.uuid4()), roles=["user"]), metadata=admin.md
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_disable_and_enable(auth_channel: grpc.aio.Channel, admin: Session) -> None:
    member = await new_user(auth_channel)
    disabled = await admin.admin.DisableUser(pb.DisableUserRequest(user_id=member.user_id), metadata=admin.md)
    assert disabled.disabled
    assert await member.refused()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await member.auth.Refresh(auth_pb.RefreshRequest(refresh_token=member.login.refresh_token))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await log_in(auth_channel, member.login.user.email)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # a wrong password still says only that
        await log_in(auth_channel, member.login.user.email, "Wrong-Password-1")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    enabled = await admin.admin.EnableUser(pb.EnableUserRequest(user_id=member.user_id), metadata=admin.md)
    assert not enabled.disabled
    assert await (await log_in(auth_channel, member.login.user.email)).works()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.admin.DisableUser(pb.DisableUserRequest(user_id=admin.user_id), metadata=admin.md)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_revoke_sessions_and_delete(auth_channel: grpc.aio.Channel, admin: Session) -> None:
    member = await new_user(auth_channel)
    second = await log_in(auth_channel, member.login.user.email)
    ended = await admin.admin.RevokeUserSessions(
        pb.RevokeUserSessionsRequest(user_id=member.user_id), metadata=admin.md
    )
    assert ended.sessions_revoked == 2
    assert await member.refused() and await second.refused()
    with pytest.raises(grpc.aio.AioRpcError):
        await member.auth.Refresh(auth_pb.RefreshRequest(refresh_token=second.login.refresh_token))

    doomed = await new_user(auth_channel)
    assert await doomed.works()
    await admin.admin.DeleteUser(pb.DeleteUserRequest(user_id=doomed.user_id), metadata=admin.md)
    assert await doomed.refused()  # a deleted user's token no longer creates tasks
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.admin.DeleteUser(pb.DeleteUserRequest(user_id=doomed.user_id), metadata=admin.md)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_logout_all_and_refresh_reuse_end_every_access_token(auth_channel: grpc.aio.Channel) -> None:
    member = await new_user(auth_channel)
    other = await log_in(auth_channel, member.login.user.email)
    await member.auth.Logout(auth_pb.LogoutRequest(all_sessions=True), metadata=member.md)
    assert await other.refused()

    victim = await new_user(auth_channel)
    rotated = await victim.auth.Refresh(auth_pb.RefreshRequest(refresh_token=victim.login.refresh_token))
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # the spent token comes back: reuse
        await victim.auth.Refresh(auth_pb.RefreshRequest(refresh_token=victim.login.refresh_token))
    assert rich_error(caught.value).reason == "TOKEN_REUSED"
    thief = Session(auth_channel, victim.login)
    thief.md = bearer(rotated.access_token)
    assert await thief.refused() and await victim.refused()


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=10) as client:
        yield client


async def test_admin_api_through_envoy(
    http: httpx.AsyncClient, auth_channel: grpc.aio.Channel, admin: Session
) -> None:
    member = await new_user(auth_channel)
    admin_auth = {"authorization": f"Bearer {admin.login.access_token}"}
    member_auth = {"authorization": f"Bearer {member.login.access_token}"}
    r = await http.get(
        "/api/v1/admin/users", params={"emailContains": member.login.user.email}, headers=admin_auth
    )
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["users"]] == [member.user_id] and r.json()["pagination"]["total"] == 1
    assert (await http.get("/api/v1/admin/users", headers=member_auth)).status_code == 403

    assert (
        await http.post("/api/v1/tasks", headers=member_auth, json={"title": "before"})
    ).status_code == 200
    r = await http.put(
        f"/api/v1/admin/users/{member.user_id}/roles", headers=admin_auth, json={"roles": ["guest"]}
    )
    assert r.status_code == 200 and r.json()["roles"] == ["guest"], r.text
    refused = await http.post("/api/v1/tasks", headers=member_auth, json={"title": "after"})
    assert refused.status_code == 401, refused.text

    r = await http.post(f"/api/v1/admin/users/{member.user_id}/disable", headers=admin_auth, json={})
    assert r.status_code == 200 and r.json()["disabled"] is True
    login = await http.post(
        "/api/v1/auth/login", json={"email": member.login.user.email, "password": STRONG_PASSWORD}
    )
    assert login.status_code == 403
    r = await http.post(f"/api/v1/admin/users/{member.user_id}/revoke-sessions", headers=admin_auth, json={})
    assert r.status_code == 200
    r = await http.delete(f"/api/v1/admin/users/{member.user_id}", headers=admin_auth)
    assert r.status_code == 200 and r.json()["success"] is True

"""IntegrationService over native gRPC against the shared in-process server and
the fake GitHub/Slack/Discord APIs: connect, list, get, delete, ownership,
credentials at rest, every webhook rejection, the actions and the outbound calls."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import grpc
import pytest
from aether.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from aether.events.v1 import event_pb2
from aether.integrations.v1 import events_pb2, integration_pb2, integrations_service_pb2_grpc
from aether.integrations.v1 import integrations_service_pb2 as pb
from aether.tasks.v1 import tasks_service_pb2, tasks_service_pb2_grpc
from google.api import httpbody_pb2
from google.protobuf import struct_pb2

from tests.api import integrations_support as sig
from tests.fakes.chat_providers import DISCORD_TOKEN, GITHUB_TOKEN, SLACK_TOKEN, FakeChatProviders, Reply
from tests.helpers import STRONG_PASSWORD, bearer, rich_error, unique_email

ACTIVE = integration_pb2.INTEGRATION_STATUS_ACTIVE


class Caller:
    def __init__(self, stub: integrations_service_pb2_grpc.IntegrationServiceStub, user_id: str, token: str):
        self.stub, self.id, self.md = stub, user_id, bearer(token)

    async def call(self, method: str, request: object) -> Any:
        return await getattr(self.stub, method)(request, metadata=self.md)

    async def connect(self, **fields: Any) -> pb.ConnectIntegrationResponse:
        config = fields.pop("config", None)
        request = pb.ConnectIntegrationRequest(**fields)
        if config is not None:
            request.config.update(config)
        return await self.call("ConnectIntegration", request)

    async def github(self, **config: Any) -> str:
        creds = pb.GithubCredentials(token=GITHUB_TOKEN, webhook_secret=sig.GITHUB_SECRET)
        return (await self.connect(github=creds, config=config)).integration_id

    async def slack(self, **config: Any) -> str:
        creds = pb.SlackCredentials(bot_token=SLACK_TOKEN, signing_secret=sig.SLACK_SECRET)
        return (
            await self.connect(slack=creds, name=f"slack {uuid.uuid4().hex[:6]}", config=config)
        ).integration_id

    async def discord(self) -> str:
        creds = pb.DiscordCredentials(
            bot_token=DISCORD_TOKEN, public_key=sig.DISCORD_PUBLIC_KEY, application_id=sig.DISCORD_APP_ID
        )
        return (await self.connect(discord=creds, name=f"discord {uuid.uuid4().hex[:6]}")).integration_id


MakeCaller = Callable[..., Awaitable[Caller]]


@pytest.fixture(scope="module")
async def channel(app_server: tuple[str, list[str]]) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(app_server[0]) as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel: grpc.aio.Channel) -> integrations_service_pb2_grpc.IntegrationServiceStub:
    return integrations_service_pb2_grpc.IntegrationServiceStub(channel)


@pytest.fixture
def caller(
    stub: integrations_service_pb2_grpc.IntegrationServiceStub, auth_channel: grpc.aio.Channel, forge_token
) -> MakeCaller:
    async def make(*, admin: bool = False) -> Caller:
        """A registered user (the consumer's service token acts for real users only)."""
        auth = auth_service_pb2_grpc.AuthServiceStub(auth_channel)
        registered = await auth.Register(
            auth_service_pb2.RegisterRequest(email=unique_email("hub"), password=STRONG_PASSWORD, name="Hub")
        )
        roles = ("admin",) if admin else ("user",)
        return Caller(stub, registered.user_id, await forge_token(registered.user_id, roles=roles))

    return make


@pytest.fixture(scope="module")
async def db(database_url: str, app_server: object) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
def fake(fake_chat: FakeChatProviders) -> FakeChatProviders:
    fake_chat.reset()
    return fake_chat


async def expect(code: grpc.StatusCode, call: Awaitable[object]) -> Any:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    error = rich_error(err.value)
    assert error.code == code, (error.code, error.message)
    return error


async def webhook(
    stub: integrations_service_pb2_grpc.IntegrationServiceStub,
    integration_id: str,
    body: bytes,
    headers: dict[str, str],
    content_type: str = "application/json",
) -> dict[str, Any]:
    request = pb.ReceiveWebhookRequest(
        integration_id=integration_id, http_body=httpbody_pb2.HttpBody(content_type=content_type, data=body)
    )
    reply = await stub.ReceiveWebhook(request, metadata=tuple(headers.items()))
    assert reply.content_type == "application/json"
    return dict(json.loads(reply.data))


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Polls until `check` holds (the consumer runs after the webhook answered)."""
    async with asyncio.timeout(20):
        while not await check():  # noqa: ASYNC110 (polls the server)
            await asyncio.sleep(0.05)


async def user_tasks(channel: grpc.aio.Channel, user: Caller) -> list[Any]:
    tasks = tasks_service_pb2_grpc.TaskServiceStub(channel)
    reply = await tasks.ListTasks(tasks_service_pb2.ListTasksRequest(limit=100), metadata=user.md)
    return list(reply.tasks)


async def delivery_row(db: asyncpg.Pool, integration_id: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM integrations.deliveries WHERE integration_id = $1", uuid.UUID(integration_id)
    )


# --- connect, list, get, delete ---------------------------------------------------


async def test_connect_get_list_delete(caller: MakeCaller, fake: FakeChatProviders) -> None:
    alice = await caller()
    reply = await alice.connect(
        github=pb.GithubCredentials(token=GITHUB_TOKEN, webhook_secret=sig.GITHUB_SECRET),
        config={"repositories": ["acme/repo-001"]},
    )
    assert reply.status == ACTIVE and reply.message == "Connected to GitHub as octocat"
    assert reply.webhook_path == f"/api/v1/integrations/{reply.integration_id}/webhook"
    assert ("GET", "/github/user") in fake.requests

    got = await alice.call("GetIntegration", pb.GetIntegrationRequest(id=reply.integration_id))
    assert (got.name, got.type, got.status, got.user_id) == ("GitHub octocat", "github", ACTIVE, alice.id)
    assert dict(got.config)["repositories"] == ["acme/repo-001"]
    assert GITHUB_TOKEN not in str(got) and sig.GITHUB_SECRET not in str(got)

    slack_id = await alice.slack(default_channel="dev")
    listed = await alice.call("ListIntegrations", pb.ListIntegrationsRequest())
    assert [i.id for i in listed.integrations] == [slack_id, reply.integration_id]
    assert listed.pagination.total == 2
    only = await alice.call("ListIntegrations", pb.ListIntegrationsRequest(type="slack", limit=1))
    assert [i.id for i in only.integrations] == [slack_id]
    by_name = await alice.call(
        "ListIntegrations", pb.ListIntegrationsRequest(sort="name", order="asc", limit=1)
    )
    assert [i.name for i in by_name.integrations] == ["GitHub octocat"] and by_name.pagination.has_next

    deleted = await alice.call("DeleteIntegration", pb.DeleteIntegrationRequest(id=reply.integration_id))
    assert deleted.success and deleted.id == reply.integration_id
    await expect(
        grpc.StatusCode.NOT_FOUND,
        alice.call("GetIntegration", pb.GetIntegrationRequest(id=reply.integration_id)),
    )


async def test_connect_is_idempotent_and_names_are_unique(caller: MakeCaller) -> None:
    alice = await caller()
    creds = pb.GithubCredentials(token=GITHUB_TOKEN)
    first = await alice.connect(github=creds, name="mine", request_id="connect-1")
    again = await alice.connect(github=creds, name="mine", request_id="connect-1")
    assert again.integration_id == first.integration_id
    error = await expect(grpc.StatusCode.ALREADY_EXISTS, alice.connect(github=creds, name="mine"))
    assert "name" in error.field_violations


async def test_rejected_credentials_store_nothing(caller: MakeCaller, db: asyncpg.Pool) -> None:
    alice = await caller()
    error = await expect(
        grpc.StatusCode.FAILED_PRECONDITION, alice.connect(github=pb.GithubCredentials(token="ghp_wrong"))
    )
    assert "GitHub rejected the credentials: 401 Bad credentials" in error.message
    slack = await expect(
        grpc.StatusCode.FAILED_PRECONDITION, alice.connect(slack=pb.SlackCredentials(bot_token="xoxb-wrong"))
    )
    assert "invalid_auth" in slack.message
    discord = await expect(
        grpc.StatusCode.FAILED_PRECONDITION, alice.connect(discord=pb.DiscordCredentials(bot_token="wrong"))
    )
    assert "401: Unauthorized" in discord.message
    assert (
        await db.fetchval("SELECT count(*) FROM integrations.integrations WHERE user_id = $1", alice.id) == 0
    )


async def test_credentials_are_ciphertext_at_rest(caller: MakeCaller, db: asyncpg.Pool) -> None:
    alice = await caller()
    integration_id = await alice.github()
    row = await db.fetchrow(
        "SELECT * FROM integrations.integrations WHERE id = $1", uuid.UUID(integration_id)
    )
    stored = bytes(row["credentials"])
    assert row["key_id"] == "default"
    assert GITHUB_TOKEN.encode() not in stored and sig.GITHUB_SECRET.encode() not in stored
    assert b"token" not in stored and len(stored) > len(GITHUB_TOKEN) + 12 + 16
    assert GITHUB_TOKEN not in json.dumps({k: str(v) for k, v in row.items()})


async def test_bad_input_names_the_fields(caller: MakeCaller) -> None:
    alice = await caller()
    cases: list[tuple[object, str, str]] = [
        (pb.ConnectIntegrationRequest(), "ConnectIntegration", "credentials"),
        (
            pb.ConnectIntegrationRequest(slack=pb.SlackCredentials(bot_token="nope")),
            "ConnectIntegration",
            "slack.botToken",
        ),
        (
            pb.ConnectIntegrationRequest(discord=pb.DiscordCredentials(bot_token="t", public_key="zz")),
            "ConnectIntegration",
            "discord.publicKey",
        ),
        (pb.ListIntegrationsRequest(limit=101), "ListIntegrations", "limit"),
        (
            pb.CreateGithubIssueRequest(integration_id="x", repository="../..", title="t"),
            "CreateGithubIssue",
            "repository",
        ),
        (pb.ListIntegrationsRequest(sort="password"), "ListIntegrations", "sort"),
        (pb.GetIntegrationRequest(id="../etc"), "GetIntegration", "id"),
        (pb.SendSlackMessageRequest(integration_id="x", channel="dev"), "SendSlackMessage", "message"),
        (
            pb.SendDiscordMessageRequest(integration_id="x", channel="not-a-snowflake", message="hi"),
            "SendDiscordMessage",
            "channel",
        ),
    ]
    for request, method, field in cases:
        error = await expect(grpc.StatusCode.INVALID_ARGUMENT, alice.call(method, request))
        assert any(f == field or f.startswith(field) for f in error.field_violations), (method, error)
    config = struct_pb2.Struct()
    config.update({"callback_url": "http://169.254.169.254/"})
    request = pb.ConnectIntegrationRequest(github=pb.GithubCredentials(token=GITHUB_TOKEN), config=config)
    error = await expect(grpc.StatusCode.INVALID_ARGUMENT, alice.call("ConnectIntegration", request))
    assert "config.callback_url" in error.field_violations


async def test_another_users_integration_is_not_found(caller: MakeCaller) -> None:
    alice, mallory, admin = await caller(), await caller(), await caller(admin=True)
    github_id, slack_id, discord_id = await alice.github(), await alice.slack(), await alice.discord()
    for method, request in [
        ("GetIntegration", pb.GetIntegrationRequest(id=github_id)),
        ("DeleteIntegration", pb.DeleteIntegrationRequest(id=github_id)),
        ("ListGithubRepos", pb.ListGithubReposRequest(integration_id=github_id)),
        (
            "CreateGithubIssue",
            pb.CreateGithubIssueRequest(integration_id=github_id, repository="acme/repo-001", title="x"),
        ),
        ("ListSlackChannels", pb.ListSlackChannelsRequest(integration_id=slack_id)),
        ("ListDiscordGuilds", pb.ListDiscordGuildsRequest(integration_id=discord_id)),
        ("SendSlackMessage", pb.SendSlackMessageRequest(integration_id=slack_id, channel="dev", message="x")),
        (
            "SendDiscordMessage",
            pb.SendDiscordMessageRequest(
                integration_id=discord_id, channel="111111111111111111", message="x"
            ),
        ),
    ]:
        await expect(grpc.StatusCode.NOT_FOUND, mallory.call(method, request))
    assert not (await mallory.call("ListIntegrations", pb.ListIntegrationsRequest())).integrations
    await expect(
        grpc.StatusCode.PERMISSION_DENIED,
        mallory.call("ListIntegrations", pb.ListIntegrationsRequest(user_id=alice.id)),
    )
    # A notify target must be the owner's own.
    await expect(grpc.StatusCode.INVALID_ARGUMENT, mallory.github(notify_integration_id=slack_id))
    seen = await admin.call("ListIntegrations", pb.ListIntegrationsRequest(user_id=alice.id))
    assert {i.id for i in seen.integrations} == {github_id, slack_id, discord_id}
    assert (await admin.call("GetIntegration", pb.GetIntegrationRequest(id=github_id))).user_id == alice.id


async def test_no_token_or_permission(stub, forge_token) -> None:
    await expect(grpc.StatusCode.UNAUTHENTICATED, stub.ListIntegrations(pb.ListIntegrationsRequest()))
    guest = bearer(await forge_token(str(uuid.uuid4()), roles=("guest",)))
    await expect(
        grpc.StatusCode.PERMISSION_DENIED, stub.ListIntegrations(pb.ListIntegrationsRequest(), metadata=guest)
    )


# --- webhooks: rejections without side effects ------------------------------------


async def test_github_rejections_have_no_side_effect(
    caller: MakeCaller, stub, db: asyncpg.Pool, channel: grpc.aio.Channel
) -> None:
    alice, bob = await caller(), await caller()
    integration_id, bobs_id = await alice.github(), await bob.github()
    body = sig.body_of(sig.pull_request_opened())
    good = sig.github_headers(body, "pull_request")
    reserialized = json.dumps(json.loads(body), separators=(",", ":")).encode()
    unauth = grpc.StatusCode.UNAUTHENTICATED
    await expect(
        unauth, webhook(stub, integration_id, body, {**good, "x-hub-signature-256": "sha256=" + "0" * 64})
    )
    await expect(
        unauth, webhook(stub, integration_id, body, {k: v for k, v in good.items() if "signature" not in k})
    )
    await expect(unauth, webhook(stub, integration_id, reserialized, good))  # signed bytes differ
    await expect(
        unauth, webhook(stub, integration_id, body, sig.github_headers(body, "pull_request", secret="x"))
    )
    await expect(unauth, webhook(stub, bobs_id, body, sig.github_headers(body, "pull_request", secret="bob")))
    await expect(unauth, webhook(stub, str(uuid.uuid4()), body, good))  # unknown
    await expect(unauth, webhook(stub, "not-a-uuid", body, good))
    await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        webhook(stub, integration_id, b"{not json", sig.github_headers(b"{not json", "push")),
    )
    assert not await delivery_row(db, integration_id)
    assert (
        await db.fetchval(
            """SELECT count(*) FROM platform.outbox
               WHERE event_type = 'integration.webhook.received' AND subject = $1""",
            integration_id,
        )
        == 0
    )
    assert not await user_tasks(channel, alice)


async def test_slack_rejections_and_handshake(caller: MakeCaller, stub, db: asyncpg.Pool) -> None:
    alice = await caller()
    slack_id = await alice.slack()
    challenge = sig.body_of({"type": "url_verification", "token": "x", "challenge": "3eZbrw1aB"})
    assert await webhook(stub, slack_id, challenge, sig.slack_headers(challenge)) == {
        "challenge": "3eZbrw1aB"
    }
    event = sig.body_of(
        {"type": "event_callback", "event_id": "Ev01", "event": {"type": "message", "text": "hi"}}
    )
    old = int(time.time()) - 301
    await expect(
        grpc.StatusCode.UNAUTHENTICATED, webhook(stub, slack_id, event, sig.slack_headers(event, old))
    )
    await expect(
        grpc.StatusCode.UNAUTHENTICATED,
        webhook(stub, slack_id, event, {**sig.slack_headers(event), "x-slack-signature": "v0=" + "a" * 64}),
    )
    assert not await delivery_row(db, slack_id)
    first = await webhook(stub, slack_id, event, sig.slack_headers(event))
    assert first == {
        "received": True,
        "processed": False,
        "actionsTaken": [],
        "event": "message",
        "duplicate": False,
        "challenge": "",
        "type": 0,
    }
    retry = await webhook(stub, slack_id, event, {**sig.slack_headers(event), "x-slack-retry-num": "1"})
    assert retry["duplicate"] is True
    assert len(await delivery_row(db, slack_id)) == 1


async def test_discord_ping_and_bad_signatures(caller: MakeCaller, stub, db: asyncpg.Pool) -> None:
    alice = await caller()
    discord_id = await alice.discord()
    ping = b'{"type":1,"id":"1","application_id":"' + sig.DISCORD_APP_ID.encode() + b'"}'
    request = pb.ReceiveWebhookRequest(
        integration_id=discord_id, http_body=httpbody_pb2.HttpBody(content_type="application/json", data=ping)
    )
    reply = await stub.ReceiveWebhook(request, metadata=tuple(sig.discord_headers(ping).items()))
    assert reply.data == b'{"type":1}'
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged = sig.discord_headers(ping, key=Ed25519PrivateKey.generate())
    await expect(grpc.StatusCode.UNAUTHENTICATED, webhook(stub, discord_id, ping, forged))
    stale = sig.discord_headers(ping, timestamp=int(time.time()) - 600)
    await expect(grpc.StatusCode.UNAUTHENTICATED, webhook(stub, discord_id, ping, stale))
    await expect(grpc.StatusCode.UNAUTHENTICATED, webhook(stub, discord_id, ping, {}))
    assert not await delivery_row(db, discord_id)


async def test_oversize_webhook_is_refused(stub, caller: MakeCaller) -> None:
    alice = await caller()
    integration_id = await alice.github()
    body = b" " * (25 * 1024 * 1024 + 1)
    await expect(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        webhook(stub, integration_id, body, sig.github_headers(body, "push")),
    )


# --- actions ------------------------------------------------------------------------


async def test_pull_request_flow_exactly_once(
    caller: MakeCaller, stub, fake: FakeChatProviders, channel: grpc.aio.Channel, db: asyncpg.Pool
) -> None:
    alice = await caller()
    slack_id = await alice.slack(default_channel="dev")
    github_id = await alice.github(notify_integration_id=slack_id)
    # The consumer fails once mid-action: the task exists, Slack answers 500 three times (one call's retries).
    fake.fail("slack", "chat.postMessage", Reply.server_error(), Reply.server_error(), Reply.server_error())
    body = sig.body_of(sig.pull_request_opened(42))
    headers = sig.github_headers(body, "pull_request")
    first = await webhook(stub, github_id, body, headers)
    assert first["received"] and first["processed"] and not first["duplicate"]
    assert first["event"] == "pull_request.opened"
    again = await webhook(stub, github_id, body, headers)  # the same delivery twice
    assert again["duplicate"] is True
    events = await db.fetch(
        """SELECT payload FROM platform.outbox
           WHERE event_type = 'integration.webhook.received' AND subject = $1""",
        github_id,
    )
    (envelope,) = [event_pb2.Event.FromString(r["payload"]) for r in events]
    assert envelope.actor_id == alice.id and envelope.source == "integrations"
    received = events_pb2.WebhookReceived()
    envelope.payload.Unpack(received)
    assert (received.user_id, received.service, received.event) == (alice.id, "github", "pull_request.opened")
    assert received.delivery_id == headers["x-github-delivery"] and received.payload["number"] == 42
    assert sig.GITHUB_SECRET not in str(received) and "x-hub-signature" not in str(received)

    async def done() -> bool:
        rows = await delivery_row(db, github_id)
        return bool(rows and rows[0]["processed_at"])

    await eventually(done)
    tasks = await user_tasks(channel, alice)
    assert [t.title for t in tasks] == ["Review PR #42: Add login page"]
    assert tasks[0].created_by == alice.id and list(tasks[0].tags) == ["github", "pull-request"]
    assert [m["channel"] for m in fake.slack_messages] == ["C0000000002"]
    assert "Add login page" in fake.slack_messages[0]["text"]
    (row,) = await delivery_row(db, github_id)
    assert list(row["actions_taken"]) == [f"task.created:{tasks[0].id}", "slack.message:C0000000002"]
    third = await webhook(stub, github_id, body, headers)
    assert third["duplicate"] and third["actionsTaken"] == list(row["actions_taken"])
    assert len(await user_tasks(channel, alice)) == 1 and len(fake.slack_messages) == 1


async def test_issue_opened_makes_a_task_and_unwatched_repos_are_ignored(
    caller: MakeCaller, stub, channel: grpc.aio.Channel, db: asyncpg.Pool
) -> None:
    alice = await caller()
    github_id = await alice.github(repositories=["acme/repo-001"])
    ignored = sig.body_of(sig.issue_opened(1, repo="acme/other"))
    reply = await webhook(stub, github_id, ignored, sig.github_headers(ignored, "issues"))
    assert reply["processed"] is False
    body = sig.body_of(sig.issue_opened(7))
    assert (await webhook(stub, github_id, body, sig.github_headers(body, "issues")))["processed"]

    async def one_task() -> bool:
        return len(await user_tasks(channel, alice)) == 1

    await eventually(one_task)
    assert [t.title for t in await user_tasks(channel, alice)] == ["Review issue #7: Crash on start"]


async def test_slack_slash_command_creates_a_task(
    caller: MakeCaller, stub, fake: FakeChatProviders, channel: grpc.aio.Channel
) -> None:
    alice = await caller()
    slack_id = await alice.slack()
    form = (
        b"command=%2Ftask&text=Write+the+release+notes&user_id=U1&user_name=ann"
        b"&channel_id=C0000000001&trigger_id=13345.98"
    )
    headers = sig.slack_headers(form)
    reply = await webhook(stub, slack_id, form, headers, "application/x-www-form-urlencoded")
    assert reply == {"response_type": "ephemeral", "text": "Creating task: Write the release notes"}

    async def posted() -> bool:
        return any("Write the release notes" in m["text"] for m in fake.slack_messages)

    await eventually(posted)
    assert [t.title for t in await user_tasks(channel, alice)] == ["Write the release notes"]


async def test_discord_command_creates_a_task(
    caller: MakeCaller, stub, fake: FakeChatProviders, channel: grpc.aio.Channel
) -> None:
    alice = await caller()
    discord_id = await alice.discord()
    interaction = {
        "id": "1234567890123456789",
        "type": 2,
        "application_id": sig.DISCORD_APP_ID,
        "token": "aW50ZXJhY3Rpb24.token",
        "data": {"name": "task", "options": [{"name": "title", "type": 3, "value": "Fix the build"}]},
        "member": {"user": {"username": "ann"}},
    }
    body = sig.body_of(interaction)
    assert await webhook(stub, discord_id, body, sig.discord_headers(body)) == {"type": 5}

    async def followed_up() -> bool:
        return any(m["channel_id"] == "followup" for m in fake.discord_messages)

    await eventually(followed_up)
    assert [t.title for t in await user_tasks(channel, alice)] == ["Fix the build"]
    assert ("POST", f"/discord/api/v10/webhooks/{sig.DISCORD_APP_ID}/aW50ZXJhY3Rpb24.token") in fake.requests


# --- outbound ---------------------------------------------------------------------


async def test_list_github_repos_follows_link_pagination(caller: MakeCaller, fake: FakeChatProviders) -> None:
    alice = await caller()
    github_id = await alice.github()
    reply = await alice.call(
        "ListGithubRepos", pb.ListGithubReposRequest(integration_id=github_id, limit=100)
    )
    assert reply.pagination.total == 150 and len(reply.repos) == 100 and reply.pagination.has_next
    assert [p for m, p in fake.requests if p == "/github/user/repos"] == ["/github/user/repos"] * 2
    pushed = [r.pushed_at.ToDatetime() for r in reply.repos]
    assert pushed == sorted(pushed, reverse=True)
    private = await alice.call(
        "ListGithubRepos",
        pb.ListGithubReposRequest(integration_id=github_id, visibility=pb.REPO_VISIBILITY_PRIVATE),
    )
    assert private.pagination.total == 50 and all(r.private for r in private.repos)


async def test_github_rate_limit_is_retried_then_reported(
    caller: MakeCaller, fake: FakeChatProviders
) -> None:
    alice = await caller()
    github_id = await alice.github()
    fake.fail("github", "/user/repos", Reply.rate_limited("github", 0))
    reply = await alice.call("ListGithubRepos", pb.ListGithubReposRequest(integration_id=github_id))
    assert reply.pagination.total == 150
    fake.fail("github", "/user/repos", Reply.rate_limited("github", 60))
    error = await expect(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        alice.call("ListGithubRepos", pb.ListGithubReposRequest(integration_id=github_id)),
    )
    assert "GitHub rate limit" in error.message and error.retry_delay_seconds == 60


async def test_send_slack_message(caller: MakeCaller, fake: FakeChatProviders) -> None:
    alice = await caller()
    slack_id = await alice.slack()
    fake.fail("slack", "chat.postMessage", Reply.rate_limited("slack", 0))
    request = pb.SendSlackMessageRequest(
        integration_id=slack_id, channel="#dev", message="Deployed", request_id="r1"
    )
    sent = await alice.call("SendSlackMessage", request)
    assert sent.success and sent.channel == "C0000000002" and sent.message_id
    again = await alice.call("SendSlackMessage", request)
    assert again.message_id == sent.message_id and len(fake.slack_messages) == 1
    error = await expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        alice.call(
            "SendSlackMessage",
            pb.SendSlackMessageRequest(integration_id=slack_id, channel="nope", message="x"),
        ),
    )
    assert "channel_not_found" in error.message
    github_id = await alice.github()
    await expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        alice.call(
            "SendSlackMessage",
            pb.SendSlackMessageRequest(integration_id=github_id, channel="dev", message="x"),
        ),
    )


async def test_send_discord_message(caller: MakeCaller, fake: FakeChatProviders) -> None:
    alice = await caller()
    discord_id = await alice.discord()
    fake.fail("discord", "/messages", Reply.rate_limited("discord", 0.1))
    request = pb.SendDiscordMessageRequest(
        integration_id=discord_id,
        channel="111111111111111111",
        message="Hello",
        reply_to_id="1200000000000000001",
    )
    sent = await alice.call("SendDiscordMessage", request)
    assert sent.success and sent.channel == "111111111111111111" and sent.message_id
    assert fake.discord_messages[-1]["message_reference"] == {"message_id": "1200000000000000001"}
    error = await expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        alice.call(
            "SendDiscordMessage",
            pb.SendDiscordMessageRequest(
                integration_id=discord_id, channel="333333333333333333", message="x"
            ),
        ),
    )
    assert "Missing Access (code 50001)" in error.message
    fake.fail("discord", "/messages", Reply.rate_limited("discord", 30))
    limited = await expect(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        alice.call(
            "SendDiscordMessage",
            request.__class__(integration_id=discord_id, channel="222222222222222222", message="Later"),
        ),
    )
    assert limited.retry_delay_seconds == 30


async def test_create_github_issue(caller: MakeCaller, fake: FakeChatProviders) -> None:
    alice = await caller()
    github_id = await alice.github()
    request = pb.CreateGithubIssueRequest(
        integration_id=github_id,
        repository="acme/repo-001",
        title="Flaky test",
        body="See CI",
        request_id="i1",
    )
    issue = await alice.call("CreateGithubIssue", request)
    assert issue.number > 0 and issue.html_url == f"https://github.com/acme/repo-001/issues/{issue.number}"
    assert (await alice.call("CreateGithubIssue", request)).number == issue.number
    assert len(fake.github_issues) == 1
    request = pb.CreateGithubIssueRequest(integration_id=github_id, repository="acme/missing", title="x")
    error = await expect(grpc.StatusCode.FAILED_PRECONDITION, alice.call("CreateGithubIssue", request))
    assert error.message == "GitHub refused: 404 Not Found"


async def test_list_slack_channels_and_discord_guilds(caller: MakeCaller) -> None:
    alice = await caller()
    slack_id, discord_id = await alice.slack(), await alice.discord()
    channels = await alice.call("ListSlackChannels", pb.ListSlackChannelsRequest(integration_id=slack_id))
    assert [(c.id, c.name, c.is_member) for c in channels.channels] == [
        ("C0000000002", "dev", True),
        ("C0000000001", "general", True),
    ]
    guilds = await alice.call("ListDiscordGuilds", pb.ListDiscordGuildsRequest(integration_id=discord_id))
    assert [(g.id, g.name) for g in guilds.guilds] == [("444444444444444444", "Acme")]
    assert guilds.pagination.total == 1
    await expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        alice.call("ListDiscordGuilds", pb.ListDiscordGuildsRequest(integration_id=slack_id)),
    )


async def test_rejected_token_puts_the_integration_in_error(
    caller: MakeCaller, fake: FakeChatProviders
) -> None:
    alice = await caller()
    github_id = await alice.github()
    fake.fail("github", "/user/repos", Reply(401, {"message": "Bad credentials", "documentation_url": "x"}))
    error = await expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        alice.call("ListGithubRepos", pb.ListGithubReposRequest(integration_id=github_id)),
    )
    assert "Bad credentials" in error.message
    got = await alice.call("GetIntegration", pb.GetIntegrationRequest(id=github_id))
    assert got.status == integration_pb2.INTEGRATION_STATUS_ERROR and "Bad credentials" in got.status_message
    await expect(
        grpc.StatusCode.FAILED_PRECONDITION,
        alice.call("ListGithubRepos", pb.ListGithubReposRequest(integration_id=github_id)),
    )


async def test_an_exhausted_discord_bucket_is_not_called_again(
    caller: MakeCaller, fake: FakeChatProviders
) -> None:
    alice = await caller()
    discord_id = await alice.discord()
    message = {"id": "1200000000000000099", "channel_id": "666666666666666666", "content": "x"}
    exhausted = {
        "X-RateLimit-Bucket": "b1",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": "60.000",
    }
    fake.fail("discord", "/channels/666666666666666666/messages", Reply(200, message, exhausted))
    request = pb.SendDiscordMessageRequest(
        integration_id=discord_id, channel="666666666666666666", message="x"
    )
    assert (await alice.call("SendDiscordMessage", request)).message_id == "1200000000000000099"
    error = await expect(grpc.StatusCode.RESOURCE_EXHAUSTED, alice.call("SendDiscordMessage", request))
    assert "bucket exhausted" in error.message and 55 < (error.retry_delay_seconds or 0) <= 60
    posts = [
        p for m, p in fake.requests if m == "POST" and p.endswith("/channels/666666666666666666/messages")
    ]
    assert len(posts) == 1  # the second call never reached Discord

"""IntegrationService as REST/JSON through a real Envoy (generated config) in
front of the real server: every RPC, JSON names, statuses, error bodies,
ownership, and webhooks whose exact bytes and headers reach the server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api import integrations_support as sig
from tests.fakes.chat_providers import DISCORD_TOKEN, GITHUB_TOKEN, SLACK_TOKEN, FakeChatProviders
from tests.helpers import STRONG_PASSWORD, unique_email

BASE = "/api/v1/integrations"


class User:
    def __init__(self, http: httpx.AsyncClient, user_id: str, token: str):
        self.http, self.id = http, user_id
        self.headers = {"authorization": f"Bearer {token}"}

    async def get(self, path: str = "", **params: Any) -> httpx.Response:
        return await self.http.get(f"{BASE}{path}", params=params, headers=self.headers)

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(f"{BASE}{path}", json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete(f"{BASE}{path}", headers=self.headers)

    async def connect(self, body: dict[str, Any]) -> str:
        r = await self.post("/connect", body)
        assert r.status_code == 200, r.text
        return str(r.json()["integrationId"])


@pytest.fixture
async def http(edge: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge, timeout=30) as client:
        yield client


async def real_user(http: httpx.AsyncClient) -> User:
    email = unique_email("hub")
    r = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD, "name": "H"}
    )
    assert r.status_code == 200, r.text
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD})
    assert login.status_code == 200, login.text
    return User(http, r.json()["userId"], login.json()["accessToken"])


@pytest.fixture
def fake(fake_chat: FakeChatProviders) -> FakeChatProviders:
    fake_chat.reset()
    return fake_chat


def violations(r: httpx.Response) -> dict[str, str]:
    for detail in r.json().get("details", []):
        if detail["@type"].endswith("google.rpc.BadRequest"):
            return {v["field"]: v["description"] for v in detail["fieldViolations"]}
    return {}


GITHUB = {"github": {"token": GITHUB_TOKEN, "webhookSecret": sig.GITHUB_SECRET}}
SLACK = {"slack": {"botToken": SLACK_TOKEN, "signingSecret": sig.SLACK_SECRET}, "name": "slack"}
DISCORD = {
    "discord": {
        "botToken": DISCORD_TOKEN,
        "publicKey": sig.DISCORD_PUBLIC_KEY,
        "applicationId": sig.DISCORD_APP_ID,
    },
    "name": "discord",
}


async def test_connect_list_get_delete(http: httpx.AsyncClient, fake: FakeChatProviders) -> None:
    alice, bob = await real_user(http), await real_user(http)
    r = await alice.post("/connect", GITHUB | {"config": {"repositories": ["acme/repo-001"]}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["status"] == "INTEGRATION_STATUS_ACTIVE" and body["message"] == "Connected to GitHub as octocat"
    )
    gid = body["integrationId"]
    assert body["webhookPath"] == f"{BASE}/{gid}/webhook"

    listed = await alice.get()
    assert listed.status_code == 200
    (item,) = listed.json()["integrations"]
    assert (item["id"], item["name"], item["type"], item["status"]) == (
        gid,
        "GitHub octocat",
        "github",
        "INTEGRATION_STATUS_ACTIVE",
    )
    assert "createdAt" in item and "lastSync" in item and GITHUB_TOKEN not in listed.text
    assert listed.json()["pagination"]["total"] == 1
    assert (await alice.get(f"/{gid}")).json()["config"] == {"repositories": ["acme/repo-001"]}

    # Someone else's integration does not exist for bob, on every route.
    assert (await bob.get(f"/{gid}")).status_code == 404
    assert (await bob.delete(f"/{gid}")).status_code == 404
    assert (await bob.post("/github/repos", {"integrationId": gid})).status_code == 404
    assert (await bob.get()).json()["integrations"] == []
    assert (await bob.get(userId=alice.id)).status_code == 403

    deleted = await alice.delete(f"/{gid}")
    assert deleted.json() == {"success": True, "message": "Integration disconnected", "id": gid}
    assert (await alice.get(f"/{gid}")).status_code == 404


async def test_bad_input_is_400_with_field_violations(http: httpx.AsyncClient) -> None:
    alice = await real_user(http)
    r = await alice.post("/connect", {"name": "x"})
    assert r.status_code == 400 and "credentials" in violations(r)
    r = await alice.post("/connect", {"slack": {"botToken": "not-a-slack-token"}})
    assert r.status_code == 400 and "slack.botToken" in violations(r)
    r = await alice.post("/connect", GITHUB | {"config": {"apiBase": "http://10.0.0.1/"}})
    assert r.status_code == 400 and "config.apiBase" in violations(r)
    r = await alice.get(limit=500)
    assert r.status_code == 400 and "limit" in violations(r)
    r = await alice.post("/slack/message", {"integrationId": "x", "channel": "dev"})
    assert r.status_code == 400 and "message" in violations(r)
    r = await alice.post("/connect", {"github": {"token": "ghp_wrong"}})
    assert r.status_code == 400 and "Bad credentials" in r.json()["message"]  # FAILED_PRECONDITION
    assert (await http.get(BASE)).status_code == 401


async def test_outbound_rpcs(http: httpx.AsyncClient, fake: FakeChatProviders) -> None:
    alice = await real_user(http)
    gid, sid, did = await alice.connect(GITHUB), await alice.connect(SLACK), await alice.connect(DISCORD)
    repos = await alice.post(
        "/github/repos", {"integrationId": gid, "limit": 5, "visibility": "REPO_VISIBILITY_PUBLIC"}
    )
    assert repos.status_code == 200, repos.text
    assert repos.json()["pagination"]["total"] == 100 and len(repos.json()["repos"]) == 5
    assert set(repos.json()["repos"][0]) >= {"id", "name", "fullName", "private", "stars", "forks"}
    slack = await alice.post("/slack/message", {"integrationId": sid, "channel": "dev", "message": "Hi"})
    assert slack.status_code == 200, slack.text
    assert slack.json()["success"] and slack.json()["channel"] == "C0000000002" and slack.json()["messageId"]
    discord = await alice.post(
        "/discord/message", {"integrationId": did, "channel": "111111111111111111", "message": "Hi"}
    )
    assert discord.status_code == 200 and discord.json()["channel"] == "111111111111111111"
    issue = await alice.post(
        "/github/issues", {"integrationId": gid, "repository": "acme/repo-002", "title": "T"}
    )
    assert issue.status_code == 200 and issue.json()["htmlUrl"].startswith(
        "https://github.com/acme/repo-002/"
    )
    channels = await alice.post("/slack/channels", {"integrationId": sid})
    assert [c["name"] for c in channels.json()["channels"]] == ["dev", "general"]
    guilds = await alice.post("/discord/guilds", {"integrationId": did})
    assert guilds.json()["guilds"] == [{"id": "444444444444444444", "name": "Acme", "owner": False}]
    refused = await alice.post(
        "/discord/message", {"integrationId": did, "channel": "444444444444444444", "message": "Hi"}
    )
    assert refused.status_code == 400 and "Unknown Channel" in refused.json()["message"]


async def test_webhook_bytes_reach_the_server_unchanged(
    http: httpx.AsyncClient, fake: FakeChatProviders
) -> None:
    alice = await real_user(http)
    gid, sid, did = await alice.connect(GITHUB), await alice.connect(SLACK), await alice.connect(DISCORD)
    # Pretty-printed, non-ASCII, key order GitHub chose: any re-serialization breaks the signature.
    body = sig.body_of(sig.pull_request_opened(9) | {"zeta": "ünïcode ✓", "alpha": 1.0})
    r = await http.post(
        f"{BASE}/{gid}/webhook",
        content=body,
        headers={"content-type": "application/json"} | sig.github_headers(body, "pull_request"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["received"] and r.json()["event"] == "pull_request.opened"
    tampered = body.replace(b"Add login page", b"Add logout page")
    r = await http.post(
        f"{BASE}/{gid}/webhook",
        content=tampered,
        headers={"content-type": "application/json"} | sig.github_headers(body, "pull_request"),
    )
    assert r.status_code == 401

    challenge = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    r = await http.post(
        f"{BASE}/{sid}/webhook",
        content=challenge,
        headers={"content-type": "application/json"} | sig.slack_headers(challenge),
    )
    assert r.status_code == 200 and r.json() == {"challenge": "abc123"}

    form = b"command=%2Ftask&text=Ship+it&channel_id=C0000000001&trigger_id=1.2.3&user_id=U1"
    r = await http.post(
        f"{BASE}/{sid}/webhook",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"} | sig.slack_headers(form),
    )
    assert r.status_code == 200 and r.json() == {
        "response_type": "ephemeral",
        "text": "Creating task: Ship it",
    }

    ping = b'{"type": 1, "id": "7", "application_id": "' + sig.DISCORD_APP_ID.encode() + b'"}'
    r = await http.post(
        f"{BASE}/{did}/webhook",
        content=ping,
        headers={"content-type": "application/json"} | sig.discord_headers(ping),
    )
    assert r.status_code == 200 and r.content == b'{"type":1}'
    assert r.headers["content-type"] == "application/json"
    bad = sig.discord_headers(ping)
    bad["x-signature-ed25519"] = "00" * 64
    r = await http.post(
        f"{BASE}/{did}/webhook", content=ping, headers={"content-type": "application/json"} | bad
    )
    assert r.status_code == 401


async def test_webhook_rejections_over_rest(http: httpx.AsyncClient) -> None:
    alice = await real_user(http)
    gid = await alice.connect(GITHUB)
    body = sig.body_of(sig.issue_opened())
    headers = {"content-type": "application/json"} | sig.github_headers(body, "issues")
    unknown = await http.post(f"{BASE}/{uuid.uuid4()}/webhook", content=body, headers=headers)
    assert unknown.status_code == 401
    first = await http.post(f"{BASE}/{gid}/webhook", content=body, headers=headers)
    replay = await http.post(f"{BASE}/{gid}/webhook", content=body, headers=headers)
    assert first.json()["duplicate"] is False and replay.json()["duplicate"] is True
    # Over the route's 25 MiB limit: refused by the edge before the server.
    huge = b"x" * (25 * 1024 * 1024 + 1)
    oversize = await http.post(f"{BASE}/{gid}/webhook", content=huge, headers=headers)
    assert oversize.status_code == 413

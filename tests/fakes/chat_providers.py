"""Fake GitHub, Slack and Discord APIs speaking their documented wire formats,
for tests and benchmarks. One aiohttp server answers under path prefixes:

- GitHub REST (`/github`): Bearer tokens, `GET /user`, `GET /user/repos` with
  `Link` pagination (rel="next"/"last"), `POST /repos/{owner}/{repo}/issues`;
  errors {"message", "documentation_url"}; `X-RateLimit-*` headers, and
  403 with `X-RateLimit-Remaining: 0` when the primary limit is exhausted.
- Slack Web API (`/slack/api`): `auth.test`, `chat.postMessage`,
  `conversations.list` (cursor pagination); HTTP 200 {"ok": false, "error"}
  for failures, 429 with `Retry-After` for rate limits.
- Discord REST (`/discord/api/v10`): `Bot` tokens, `GET /users/@me`,
  `GET /users/@me/guilds`, `POST /channels/{id}/messages`, interaction
  follow-ups `POST /webhooks/{app}/{token}`; errors {"message", "code"};
  bucket headers (`X-RateLimit-Bucket`, `-Remaining`, `-Reset-After`) and
  429 {"message", "retry_after", "global"}.

Faults are scripted: `fake.fail("slack", "chat.postMessage", Reply.rate_limited(1))`
queues a reply for the next matching request.

Standalone (benchmarks): `python -m tests.fakes.chat_providers --port 9998`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

GITHUB_TOKEN = "ghp_fake_valid_token"
SLACK_TOKEN = "xoxb-fake-valid-token"
DISCORD_TOKEN = "fake.discord.bot-token"
SLACK_CHANNELS = {"C0000000001": "general", "C0000000002": "dev"}
DISCORD_CHANNELS = {
    "111111111111111111": "general",
    "222222222222222222": "dev",
    "666666666666666666": "busy",
}
DISCORD_FORBIDDEN_CHANNEL = "333333333333333333"
GITHUB_DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class Reply:
    """A scripted answer (status, JSON body, headers)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(cls, provider: str, retry_after: float = 1.0) -> Reply:
        if provider == "discord":
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            return cls(429, body, {"Retry-After": str(retry_after), "X-RateLimit-Scope": "user"})
        if provider == "slack":
            return cls(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(int(retry_after))})
        return cls(
            429,
            {"message": "API rate limit exceeded", "documentation_url": GITHUB_DOCS},
            {"Retry-After": str(int(retry_after))},
        )

    @classmethod
    def server_error(cls) -> Reply:
        return cls(500, {"message": "Internal Server Error"})


@dataclass
class Repo:
    id: int
    full_name: str
    private: bool
    pushed_at: str
    stars: int = 0


def default_repos(count: int = 150) -> list[Repo]:
    return [
        Repo(
            1000 + i, f"acme/repo-{i:03d}", i % 3 == 0, f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z", i
        )
        for i in range(count)
    ]


class FakeChatProviders:
    def __init__(self, port: int = 0):
        self.port = port
        self.url = ""
        self.repos = default_repos()
        self.slack_messages: list[dict[str, Any]] = []
        self.discord_messages: list[dict[str, Any]] = []
        self.github_issues: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self._faults: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def github_base(self) -> str:
        return f"{self.url}/github"

    @property
    def slack_base(self) -> str:
        return f"{self.url}/slack/api"

    @property
    def discord_base(self) -> str:
        return f"{self.url}/discord/api/v10"

    def fail(self, provider: str, path_suffix: str, *replies: Reply) -> None:
        """Answer the next requests whose path ends with `path_suffix` with `replies`."""
        self._faults[(provider, path_suffix)].extend(replies)

    def reset(self) -> None:
        self.slack_messages.clear()
        self.discord_messages.clear()
        self.github_issues.clear()
        self.requests.clear()
        self._faults.clear()

    def _fault(self, provider: str, path: str) -> web.Response | None:
        for (p, suffix), queue in self._faults.items():
            if p == provider and path.endswith(suffix) and queue:
                reply = queue.popleft()
                return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        return None

    # --- GitHub ---------------------------------------------------------------

    def _github_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": "1",
            "X-RateLimit-Resource": "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
        }

    def _github_error(self, status: int, message: str) -> web.Response:
        return web.json_response(
            {"message": message, "documentation_url": GITHUB_DOCS},
            status=status,
            headers=self._github_headers(),
        )

    async def _github(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        if (fault := self._fault("github", path)) is not None:
            return fault
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return self._github_error(401, "Bad credentials")
        if request.method == "GET" and path == "/user":
            return web.json_response({"login": "octocat", "id": 1}, headers=self._github_headers())
        if request.method == "GET" and path == "/user/repos":
            return self._github_repos(request)
        if request.method == "POST" and path.startswith("/repos/") and path.endswith("/issues"):
            full_name = path.removeprefix("/repos/").removesuffix("/issues")
            if full_name not in {r.full_name for r in self.repos}:
                return self._github_error(404, "Not Found")
            body = await request.json()
            if not body.get("title"):
                return self._github_error(422, "Validation Failed")
            number = next(self._ids)
            issue = {
                "number": number,
                "title": body["title"],
                "html_url": f"https://github.com/{full_name}/issues/{number}",
            }
            self.github_issues.append(issue)
            return web.json_response(issue, status=201, headers=self._github_headers())
        return self._github_error(404, "Not Found")

    def _github_repos(self, request: web.Request) -> web.Response:
        per_page = min(int(request.query.get("per_page", "30")), 100)
        page = max(int(request.query.get("page", "1")), 1)
        last = max(1, -(-len(self.repos) // per_page))
        items = self.repos[(page - 1) * per_page : page * per_page]
        base = f"{self.github_base}/user/repos?per_page={per_page}"
        links = []
        if page < last:
            links.append(f'<{base}&page={page + 1}>; rel="next"')
            links.append(f'<{base}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}&page=1>; rel="first"')
            links.append(f'<{base}&page={page - 1}>; rel="prev"')
        headers = self._github_headers()
        if links:
            headers["Link"] = ", ".join(links)
        body = [
            {
                "id": r.id,
                "name": r.full_name.split("/")[1],
                "full_name": r.full_name,
                "private": r.private,
                "visibility": "private" if r.private else "public",
                "stargazers_count": r.stars,
                "forks_count": r.stars // 2,
                "description": f"Repository {r.full_name}",
                "html_url": f"https://github.com/{r.full_name}",
                "default_branch": "main",
                "language": "Python",
                "pushed_at": r.pushed_at,
            }
            for r in items
        ]
        return web.json_response(body, headers=headers)

    # --- Slack ----------------------------------------------------------------

    async def _slack(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if (fault := self._fault("slack", method)) is not None:
            return fault
        if request.headers.get("Authorization") != f"Bearer {SLACK_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body = await request.json() if request.can_read_body else {}
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://acme.slack.com/",
                    "team": "Acme",
                    "user": "aether",
                    "team_id": "T1",
                    "user_id": "U1",
                    "bot_id": "B1",
                }
            )
        if method == "chat.postMessage":
            return self._slack_post(body)
        if method == "conversations.list":
            ids = sorted(SLACK_CHANNELS)
            start = int(body.get("cursor") or 0)
            limit = int(body.get("limit") or 100)
            page = ids[start : start + limit]
            cursor = str(start + limit) if start + limit < len(ids) else ""
            return web.json_response(
                {
                    "ok": True,
                    "channels": [{"id": i, "name": SLACK_CHANNELS[i], "is_member": True} for i in page],
                    "response_metadata": {"next_cursor": cursor},
                }
            )
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    def _slack_post(self, body: dict[str, Any]) -> web.Response:
        channel = str(body.get("channel", ""))
        by_name = {name: cid for cid, name in SLACK_CHANNELS.items()}
        channel_id = channel if channel in SLACK_CHANNELS else by_name.get(channel, "")
        if not channel_id:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if not body.get("text"):
            return web.json_response({"ok": False, "error": "no_text"})
        ts = f"{int(time.time())}.{next(self._ids):06d}"
        message = {"channel": channel_id, "text": body["text"], "ts": ts, "thread_ts": body.get("thread_ts")}
        self.slack_messages.append(message)
        return web.json_response(
            {"ok": True, "channel": channel_id, "ts": ts, "message": {"text": body["text"], "ts": ts}}
        )

    # --- Discord --------------------------------------------------------------

    def _discord_headers(self, bucket: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": bucket,
        }

    def _discord_error(self, status: int, message: str, code: int) -> web.Response:
        return web.json_response({"message": message, "code": code}, status=status)

    async def _discord(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        if (fault := self._fault("discord", path)) is not None:
            return fault
        if (
            path.startswith("/webhooks/") and request.method == "POST"
        ):  # interaction tokens authenticate these
            body = await request.json()
            return self._discord_message("followup", body, "webhook")
        if request.headers.get("Authorization") != f"Bot {DISCORD_TOKEN}":
            return self._discord_error(401, "401: Unauthorized", 0)
        if path == "/users/@me":
            return web.json_response({"id": "999999999999999999", "username": "aether-bot", "bot": True})
        if path == "/users/@me/guilds":
            return web.json_response([{"id": "444444444444444444", "name": "Acme", "owner": False}])
        if path.startswith("/channels/") and path.endswith("/messages") and request.method == "POST":
            channel = path.split("/")[2]
            if channel == DISCORD_FORBIDDEN_CHANNEL:
                return self._discord_error(403, "Missing Access", 50001)
            if channel not in DISCORD_CHANNELS:
                return self._discord_error(404, "Unknown Channel", 10003)
            return self._discord_message(channel, await request.json(), f"channel-{channel}")
        return self._discord_error(404, "404: Not Found", 0)

    def _discord_message(self, channel: str, body: dict[str, Any], bucket: str) -> web.Response:
        if not body.get("content"):
            return self._discord_error(400, "Cannot send an empty message", 50006)
        message = {
            "id": str(1_200_000_000_000_000_000 + next(self._ids)),
            "channel_id": channel,
            "content": body["content"],
            "timestamp": datetime.now(UTC).isoformat(),
            "message_reference": body.get("message_reference"),
        }
        self.discord_messages.append(message)
        return web.json_response(message, headers=self._discord_headers(bucket))

    # --- server ---------------------------------------------------------------

    @web.middleware
    async def _log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        response: web.StreamResponse = await handler(request)
        return response

    async def __aenter__(self) -> FakeChatProviders:
        app = web.Application(middlewares=[self._log])
        app.router.add_route("*", "/github/{path:.*}", self._github)
        app.router.add_post("/slack/api/{method}", self._slack)
        app.router.add_route("*", "/discord/api/v10/{path:.*}", self._discord)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def _main(port: int) -> None:
    async with FakeChatProviders(port) as fake:
        print(f"FakeChatProviders listening on {fake.url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9998)
    asyncio.run(_main(parser.parse_args().port))

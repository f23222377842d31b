"""Slack's Web API (https://api.slack.com/web): auth.test, chat.postMessage,
conversations.list. Slack answers HTTP 200 with {"ok": false, "error": ...}
for most failures; those become FAILED_PRECONDITION naming Slack's error
(invalid_auth and friends: the credentials were rejected)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from servers.integrations.domain import Account, Channel, PostedMessage
from servers.integrations.providers.http import CredentialsRejected, ProviderHttp
from servers.platform.errors import FailedPrecondition

AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
MAX_PAGES = 10


def reason(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error or f"{response.status_code} {response.reason_phrase}")


class SlackApi:
    def __init__(self, http: ProviderHttp):
        self._http = http

    async def _call(self, method: str, token: str, **body: Any) -> dict[str, Any]:
        response = await self._http.request(
            "POST", f"/{method}", headers={"authorization": f"Bearer {token}"}, json=body
        )
        reply: dict[str, Any] = response.json()
        if not reply.get("ok"):
            error = str(reply.get("error", "unknown_error"))
            if error in AUTH_ERRORS:
                raise CredentialsRejected(f"Slack rejected the credentials: {error}")
            raise FailedPrecondition(f"Slack refused {method}: {error}")
        return reply

    async def verify(self, token: str) -> Account:
        reply = await self._call("auth.test", token)
        return Account(f"{reply.get('team', '?')} ({reply.get('user', '?')})")

    async def post(self, token: str, channel: str, text: str, thread_ts: str = "") -> PostedMessage:
        body: dict[str, Any] = {"channel": channel, "text": text}
        if thread_ts:
            body["thread_ts"] = thread_ts
        reply = await self._call("chat.postMessage", token, **body)
        ts = str(reply.get("ts", ""))
        when = datetime.fromtimestamp(float(ts), UTC) if ts else datetime.now(UTC)
        return PostedMessage(ts, str(reply.get("channel", channel)), when)

    async def channels(self, token: str) -> list[Channel]:
        """Every conversation the bot can list (cursor pagination)."""
        found: list[Channel] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            args: dict[str, Any] = {"limit": 200}
            if cursor:
                args["cursor"] = cursor
            reply = await self._call("conversations.list", token, **args)
            found += [
                Channel(
                    str(c.get("id", "")),
                    str(c.get("name", "")),
                    bool(c.get("is_member")),
                    bool(c.get("is_private")),
                )
                for c in reply.get("channels", [])
            ]
            cursor = (reply.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                break
        return found

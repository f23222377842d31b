"""Discord's REST API (https://discord.com/developers/docs/reference): the
bot's user, its guilds, channel messages, and interaction follow-ups.
Errors are {"message": ..., "code": ...}; rate limits are per-route buckets
(servers.integrations.providers.http)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from servers.integrations.domain import Account, Guild, PostedMessage
from servers.integrations.providers.http import ProviderHttp


def reason(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = f"{body.get('message')} (code {body.get('code')})"
    except (ValueError, AttributeError):
        message = response.reason_phrase
    return f"{response.status_code} {message}"


def _message(reply: dict[str, Any], channel: str) -> PostedMessage:
    stamp = reply.get("timestamp")
    when = datetime.fromisoformat(stamp) if isinstance(stamp, str) else datetime.now(UTC)
    return PostedMessage(str(reply.get("id", "")), str(reply.get("channel_id", channel)), when)


class DiscordApi:
    def __init__(self, http: ProviderHttp):
        self._http = http

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {"authorization": f"Bot {token}"}

    async def verify(self, token: str) -> Account:
        me = (await self._http.request("GET", "/users/@me", headers=self._headers(token))).json()
        return Account(str(me.get("username") or me.get("id") or "unknown"))

    async def guilds(self, token: str) -> list[Guild]:
        response = await self._http.request("GET", "/users/@me/guilds", headers=self._headers(token))
        return [
            Guild(str(g.get("id", "")), str(g.get("name", "")), bool(g.get("owner"))) for g in response.json()
        ]

    async def send(self, token: str, channel: str, content: str, reply_to: str = "") -> PostedMessage:
        body: dict[str, Any] = {"content": content}
        if reply_to:
            body["message_reference"] = {"message_id": reply_to}
        response = await self._http.request(
            "POST",
            f"/channels/{channel}/messages",
            route=f"POST /channels/{channel}/messages",  # Discord buckets are per channel
            headers=self._headers(token),
            json=body,
        )
        return _message(response.json(), channel)

    async def follow_up(self, application_id: str, interaction_token: str, content: str) -> PostedMessage:
        """A follow-up message to an interaction answered with a deferred response."""
        response = await self._http.request(
            "POST",
            f"/webhooks/{application_id}/{interaction_token}",
            route=f"POST /webhooks/{application_id}",
            json={"content": content},
        )
        return _message(response.json(), "")

"""Verifying and parsing webhook deliveries, over the exact bytes received.

GitHub: HMAC-SHA256 of the body (`X-Hub-Signature-256: sha256=<hex>`).
Slack: v0 HMAC-SHA256 of `v0:<timestamp>:<body>` (`X-Slack-Signature`), the
timestamp within five minutes. Discord: Ed25519 over `<timestamp><body>`
(`X-Signature-Ed25519`), the timestamp within five minutes too. Every
comparison is constant-time (hmac.compare_digest, or the Ed25519 verify).
Every failure is the same Unauthenticated, so nothing can be probed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from servers.integrations.domain import (
    Credentials,
    Delivery,
    DiscordCredentials,
    GithubCredentials,
    SlackCredentials,
)
from servers.platform.errors import FieldViolation, InvalidArgument, Unauthenticated

TOLERANCE_SECONDS = 300
REJECTED = "webhook signature missing, invalid or expired"
# GitHub events the hub has rules for (servers.integrations.rules).
GITHUB_ACTIONABLE = frozenset({"pull_request.opened", "issues.opened"})
TASK_COMMAND = "task"  # the Discord command name and the Slack slash command "/task"

Headers = Mapping[str, str]


def _reject() -> Unauthenticated:
    return Unauthenticated(REJECTED)


def _fresh(timestamp: str, now: float) -> bool:
    return timestamp.isdigit() and abs(now - int(timestamp)) <= TOLERANCE_SECONDS


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise InvalidArgument("the body is not a JSON object", [FieldViolation("httpBody", "invalid JSON")])
    return value


def verify(credentials: Credentials, headers: Headers, body: bytes, now: float) -> None:
    """Raise Unauthenticated unless the delivery is signed by the provider."""
    match credentials:
        case GithubCredentials(webhook_secret=secret):
            given = headers.get("x-hub-signature-256", "")
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if not secret or not hmac.compare_digest(given.encode(), expected.encode()):
                raise _reject()
        case SlackCredentials(signing_secret=secret):
            timestamp = headers.get("x-slack-request-timestamp", "")
            given = headers.get("x-slack-signature", "")
            if not secret or not _fresh(timestamp, now):
                raise _reject()
            base = b"v0:" + timestamp.encode() + b":" + body
            expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise _reject()
        case DiscordCredentials(public_key=public_key):
            timestamp = headers.get("x-signature-timestamp", "")
            if not public_key or not _fresh(timestamp, now):
                raise _reject()
            try:
                signature = bytes.fromhex(headers.get("x-signature-ed25519", ""))
                key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
                key.verify(signature, timestamp.encode() + body)
            except (ValueError, InvalidSignature) as exc:
                raise _reject() from exc


def parse(credentials: Credentials, headers: Headers, body: bytes, content_type: str) -> Delivery:
    """The verified delivery: its id, event, payload and immediate answer."""
    match credentials:
        case GithubCredentials():
            return _github(headers, body)
        case SlackCredentials():
            if content_type.split(";")[0].strip() == "application/x-www-form-urlencoded":
                return _slack_command(body)
            return _slack_event(body)
        case DiscordCredentials():
            return _discord(body)


def _github(headers: Headers, body: bytes) -> Delivery:
    delivery_id = headers.get("x-github-delivery", "")
    if not delivery_id:
        raise InvalidArgument(
            "X-GitHub-Delivery is missing", [FieldViolation("x-github-delivery", "required")]
        )
    payload = _json(body)
    event = headers.get("x-github-event", "") or "unknown"
    action = payload.get("action")
    if isinstance(action, str) and action:
        event = f"{event}.{action}"
    return Delivery(delivery_id, event, payload, actionable=event in GITHUB_ACTIONABLE)


def _slack_event(body: bytes) -> Delivery:
    payload = _json(body)
    if payload.get("type") == "url_verification":
        challenge = str(payload.get("challenge", ""))
        return Delivery("", "url_verification", payload, reply={"challenge": challenge}, handshake=True)
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidArgument("event_id is missing", [FieldViolation("event_id", "required")])
    inner = payload.get("event")
    event = str(inner.get("type", "event")) if isinstance(inner, dict) else str(payload.get("type", "event"))
    return Delivery(event_id, event, payload)


def _slack_command(body: bytes) -> Delivery:
    try:
        form = {k: v[0] for k, v in parse_qs(body.decode(), strict_parsing=True).items()}
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(
            "the form body is invalid", [FieldViolation("httpBody", "invalid form")]
        ) from exc
    trigger_id = form.get("trigger_id", "")
    command = form.get("command", "")
    if not trigger_id or not command:
        raise InvalidArgument(
            "not a slash command", [FieldViolation("command" if trigger_id else "trigger_id", "required")]
        )
    title = form.get("text", "").strip()
    if command != f"/{TASK_COMMAND}" or not title:
        reply = {"response_type": "ephemeral", "text": f"Usage: /{TASK_COMMAND} <title>"}
        return Delivery(trigger_id, "slash_command", form, reply=reply)
    reply = {"response_type": "ephemeral", "text": f"Creating task: {title}"}
    return Delivery(trigger_id, "slash_command", form, reply=reply, actionable=True)


def _discord(body: bytes) -> Delivery:
    payload = _json(body)
    if payload.get("type") == 1:  # PING
        return Delivery("", "ping", payload, reply={"type": 1}, handshake=True)
    interaction_id = payload.get("id")
    if not isinstance(interaction_id, str) or not interaction_id:
        raise InvalidArgument("id is missing", [FieldViolation("id", "required")])
    if payload.get("type") == 2 and discord_task_title(payload):
        # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: the result follows as a message.
        return Delivery(interaction_id, "interaction", payload, reply={"type": 5}, actionable=True)
    unknown = {"type": 4, "data": {"content": f"Usage: /{TASK_COMMAND} title:<title>", "flags": 64}}
    return Delivery(interaction_id, "interaction", payload, reply=unknown)


def discord_task_title(payload: Mapping[str, Any]) -> str:
    """The title option of a /task application command, or ""."""
    data = payload.get("data")
    if not isinstance(data, dict) or data.get("name") != TASK_COMMAND:
        return ""
    for option in data.get("options") or []:
        if isinstance(option, dict) and option.get("name") == "title":
            return str(option.get("value", "")).strip()
    return ""

"""Which deliveries the hub acts on, per integration config, and the task each
one makes. Pure functions over the delivery payload; no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from servers.integrations.domain import Integration, Provider
from servers.integrations.webhooks import discord_task_title

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000


@dataclass(frozen=True)
class TaskDraft:
    title: str
    description: str
    tags: tuple[str, ...]
    category: str = ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def watches(integration: Integration, payload: dict[str, Any]) -> bool:
    """A GitHub integration acts on its configured repositories (all if none)."""
    repositories = integration.config.get("repositories") or []
    full_name = (payload.get("repository") or {}).get("full_name", "")
    return not repositories or full_name in repositories


def acts_on(integration: Integration, event: str, payload: dict[str, Any]) -> bool:
    if integration.provider is Provider.GITHUB:
        return integration.config.get("create_tasks", True) is not False and watches(integration, payload)
    return True


def task_for(provider: Provider, event: str, payload: dict[str, Any]) -> TaskDraft | None:
    """The task a delivery creates, or None."""
    if provider is Provider.GITHUB and event in ("pull_request.opened", "issues.opened"):
        kind, item = ("pull_request", "PR") if event.startswith("pull_request") else ("issue", "issue")
        obj = payload.get(kind) or {}
        repo = (payload.get("repository") or {}).get("full_name", "")
        number = obj.get("number", "?")
        if isinstance(number, float) and number.is_integer():  # JSON numbers arrive as floats
            number = int(number)
        title = f"Review {item} #{number}: {obj.get('title', '')}".strip()
        body = f"{obj.get('html_url', '')}\n\n{obj.get('body') or ''}".strip()
        tags = ("github", "pull-request" if item == "PR" else "issue")
        return TaskDraft(_clip(title, TITLE_MAX), _clip(body, DESCRIPTION_MAX), tags, _clip(repo, 50))
    if provider is Provider.SLACK and event == "slash_command":
        title = str(payload.get("text", "")).strip()
        by = payload.get("user_name") or payload.get("user_id", "")
        return TaskDraft(_clip(title, TITLE_MAX), f"Created from Slack by {by}", ("slack",))
    if provider is Provider.DISCORD and event == "interaction":
        title = discord_task_title(payload)
        user = (payload.get("member") or {}).get("user") or payload.get("user") or {}
        return TaskDraft(
            _clip(title, TITLE_MAX), f"Created from Discord by {user.get('username', '')}", ("discord",)
        )
    return None


def notifies(event: str) -> bool:
    """An opened pull request is also announced in the configured channel."""
    return event == "pull_request.opened"


def request_id(integration_id: str, delivery_id: str, what: str) -> str:
    """The idempotency key of one effect of one delivery (<= 128 characters)."""
    digest = hashlib.sha256(f"{integration_id}:{delivery_id}".encode()).hexdigest()[:40]
    return f"integrations:{digest}:{what}"

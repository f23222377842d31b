"""Integration Hub domain: integrations, their typed credentials and config,
webhook deliveries and the domain events. No I/O, no protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from servers.platform.errors import FieldViolation, InvalidArgument
from servers.platform.paging import PageRequest


class Provider(StrEnum):
    GITHUB = "github"
    SLACK = "slack"
    DISCORD = "discord"

    @property
    def display_name(self) -> str:
        return {"github": "GitHub", "slack": "Slack", "discord": "Discord"}[self.value]


class Status(StrEnum):
    ACTIVE = "active"
    ERROR = "error"
    DISABLED = "disabled"


@dataclass(frozen=True)
class GithubCredentials:
    token: str
    webhook_secret: str = ""


@dataclass(frozen=True)
class SlackCredentials:
    bot_token: str
    signing_secret: str = ""


@dataclass(frozen=True)
class DiscordCredentials:
    bot_token: str
    public_key: str = ""
    application_id: str = ""


Credentials = GithubCredentials | SlackCredentials | DiscordCredentials

PROVIDER_OF: dict[type, Provider] = {
    GithubCredentials: Provider.GITHUB,
    SlackCredentials: Provider.SLACK,
    DiscordCredentials: Provider.DISCORD,
}
CREDENTIAL_TYPES: dict[Provider, type] = {p: t for t, p in PROVIDER_OF.items()}

# Config keys per provider and the JSON type each must have.
CONFIG_KEYS: dict[Provider, dict[str, type]] = {
    Provider.GITHUB: {
        "repositories": list,
        "create_tasks": bool,
        "notify_integration_id": str,
        "notify_channel": str,
    },
    Provider.SLACK: {"default_channel": str},
    Provider.DISCORD: {"default_channel": str},
}
MAX_CONFIG_STRING = 200


def clean_config(provider: Provider, config: dict[str, Any]) -> dict[str, Any]:
    """The connect-time config, checked key by key (no URLs, no secrets, no unknown keys)."""
    allowed = CONFIG_KEYS[provider]
    violations = []
    for key, value in config.items():
        path = f"config.{key}"
        if key not in allowed:
            violations.append(FieldViolation(path, f"is not a {provider.value} setting"))
        elif not isinstance(value, allowed[key]):
            violations.append(FieldViolation(path, f"must be a {allowed[key].__name__}"))
        elif isinstance(value, str) and (len(value) > MAX_CONFIG_STRING or "://" in value):
            violations.append(FieldViolation(path, "must be a short name or id, not a URL"))
        elif isinstance(value, list) and not all(
            isinstance(v, str) and 0 < len(v) <= MAX_CONFIG_STRING and v.count("/") == 1 for v in value
        ):
            violations.append(FieldViolation(path, 'must list repositories as "owner/name"'))
    if violations:
        raise InvalidArgument("config has invalid settings", violations)
    return dict(config)


@dataclass(frozen=True)
class Integration:
    id: str
    user_id: str
    name: str
    provider: Provider
    status: Status
    status_message: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_sync: datetime | None = None

    @property
    def webhook_path(self) -> str:
        return webhook_path(self.id)


def webhook_path(integration_id: str) -> str:
    return f"/api/v1/integrations/{integration_id}/webhook"


@dataclass(frozen=True)
class NewIntegration:
    name: str
    credentials: Credentials
    config: dict[str, Any]

    @property
    def provider(self) -> Provider:
        return PROVIDER_OF[type(self.credentials)]


@dataclass(frozen=True)
class Account:
    """Who the provider says the credentials belong to (from the verification call)."""

    display: str


@dataclass(frozen=True)
class ListQuery:
    page: PageRequest
    sort: str = "createdAt"
    descending: bool = True
    provider: str = ""
    status: str = ""
    user_id: str | None = None  # None = everyone's (admins only)


SORT_COLUMNS = {"createdAt": "created_at", "name": "name", "lastSync": "last_sync"}


@dataclass(frozen=True)
class Delivery:
    """A verified webhook delivery, as parsed from the provider's request."""

    delivery_id: str
    event: str
    payload: dict[str, Any]
    # The immediate answer in the provider's format, when it expects one.
    reply: dict[str, Any] | None = None
    # True when the hub has rules for this event (acted on from the outbox).
    actionable: bool = False
    # Handshakes (Slack url_verification, Discord PING) are answered, not stored.
    handshake: bool = False


@dataclass(frozen=True)
class Receipt:
    """What ReceiveWebhook answers."""

    delivery: Delivery
    duplicate: bool
    actions_taken: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhookReceived:
    """Domain event: a verified, first-seen delivery (integration.webhook.received)."""

    integration: Integration
    delivery: Delivery
    actions_taken: tuple[str, ...] = field(default=())


IntegrationEvent = WebhookReceived


@dataclass(frozen=True)
class Repo:
    """A GitHub repository visible to an integration's token."""

    id: str
    name: str
    full_name: str
    private: bool
    stars: int
    forks: int
    description: str
    html_url: str
    default_branch: str
    language: str
    pushed_at: datetime | None


@dataclass(frozen=True)
class PostedMessage:
    """A message a provider accepted."""

    message_id: str
    channel: str
    timestamp: datetime


@dataclass(frozen=True)
class Issue:
    """A GitHub issue the hub opened."""

    number: int
    html_url: str


@dataclass(frozen=True)
class Channel:
    """A Slack conversation the bot can see."""

    id: str
    name: str
    is_member: bool
    is_private: bool


@dataclass(frozen=True)
class Guild:
    """A Discord guild the bot is in."""

    id: str
    name: str
    owner: bool

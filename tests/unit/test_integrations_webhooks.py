"""Webhook signatures and parsing over the exact bytes, and the rules that
turn deliveries into tasks: pure functions, no server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from servers.integrations import rules, webhooks
from servers.integrations.domain import (
    DiscordCredentials,
    GithubCredentials,
    Integration,
    Provider,
    SlackCredentials,
    Status,
)
from servers.platform.errors import InvalidArgument, Unauthenticated
from tests.api import integrations_support as sig

GITHUB = GithubCredentials("t", sig.GITHUB_SECRET)
SLACK = SlackCredentials("xoxb-t", sig.SLACK_SECRET)
DISCORD = DiscordCredentials("t", sig.DISCORD_PUBLIC_KEY, sig.DISCORD_APP_ID)


def test_github_signature_is_over_the_exact_bytes() -> None:
    now = time.time()
    body = sig.body_of(sig.pull_request_opened())
    headers = sig.github_headers(body, "pull_request", "d-1")
    webhooks.verify(GITHUB, headers, body, now)
    for bad_body in (body.replace(b"\n", b""), body + b" ", b""):
        with pytest.raises(Unauthenticated):
            webhooks.verify(GITHUB, headers, bad_body, now)
    with pytest.raises(Unauthenticated):  # no secret configured: nothing verifies
        webhooks.verify(GithubCredentials("t"), headers, body, now)
    delivery = webhooks.parse(GITHUB, headers, body, "application/json")
    assert (delivery.delivery_id, delivery.event, delivery.actionable) == ("d-1", "pull_request.opened", True)


def test_slack_timestamp_window() -> None:
    now = time.time()
    body = b'{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}'
    webhooks.verify(SLACK, sig.slack_headers(body, int(now) - 299), body, now)
    for stale in (int(now) - 301, int(now) + 301):
        with pytest.raises(Unauthenticated):
            webhooks.verify(SLACK, sig.slack_headers(body, stale), body, now)
    with pytest.raises(Unauthenticated):
        webhooks.verify(SLACK, {**sig.slack_headers(body), "x-slack-request-timestamp": "soon"}, body, now)
    assert webhooks.parse(SLACK, {}, body, "application/json").event == "app_mention"


def test_slack_slash_command_and_bad_forms() -> None:
    form = b"command=%2Ftask&text=Ship+it&trigger_id=1.2&channel_id=C1"
    delivery = webhooks.parse(SLACK, {}, form, "application/x-www-form-urlencoded; charset=utf-8")
    assert (
        delivery.reply == {"response_type": "ephemeral", "text": "Creating task: Ship it"}
        and delivery.actionable
    )
    other = webhooks.parse(SLACK, {}, b"command=%2Fdeploy&trigger_id=1", "application/x-www-form-urlencoded")
    assert not other.actionable and "Usage" in other.reply["text"]  # type: ignore[index]
    with pytest.raises(InvalidArgument):
        webhooks.parse(SLACK, {}, b"text=no+command", "application/x-www-form-urlencoded")


def test_discord_ed25519_and_ping() -> None:
    now = time.time()
    body = b'{"type":1}'
    webhooks.verify(DISCORD, sig.discord_headers(body), body, now)
    with pytest.raises(Unauthenticated):
        webhooks.verify(DISCORD, {**sig.discord_headers(body), "x-signature-ed25519": "zz"}, body, now)
    with pytest.raises(Unauthenticated):
        webhooks.verify(DISCORD, sig.discord_headers(body, int(now) - 301), body, now)
    ping = webhooks.parse(DISCORD, {}, body, "application/json")
    assert ping.handshake and ping.reply == {"type": 1}


def test_bodies_that_are_not_objects_are_invalid() -> None:
    for body in (b"[]", b"not json", b'"x"', b"\xff"):
        with pytest.raises(InvalidArgument):
            webhooks.parse(GITHUB, {"x-github-delivery": "d"}, body, "application/json")
    with pytest.raises(InvalidArgument):  # no delivery id
        webhooks.parse(GITHUB, {}, b"{}", "application/json")


def integration(**config: object) -> Integration:
    now = datetime.now(UTC)
    return Integration("i", "u", "n", Provider.GITHUB, Status.ACTIVE, "", dict(config), now, now)


def test_rules() -> None:
    pr = sig.pull_request_opened(42, repo="acme/api")
    assert rules.acts_on(integration(), "pull_request.opened", pr)
    assert rules.acts_on(integration(repositories=["acme/api"]), "pull_request.opened", pr)
    assert not rules.acts_on(integration(repositories=["acme/web"]), "pull_request.opened", pr)
    assert not rules.acts_on(integration(create_tasks=False), "pull_request.opened", pr)
    pr["pull_request"]["number"] = 42.0  # JSON numbers come back from a Struct as floats
    draft = rules.task_for(Provider.GITHUB, "pull_request.opened", pr)
    assert (
        draft is not None and draft.title == "Review PR #42: Add login page" and draft.category == "acme/api"
    )
    assert rules.task_for(Provider.GITHUB, "push", pr) is None
    key = rules.request_id("i", "d" * 500, "task")
    assert len(key) <= 128 and key == rules.request_id("i", "d" * 500, "task") != rules.request_id(
        "j", "d", "task"
    )

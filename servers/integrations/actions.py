"""The outbox consumer of `integration.webhook.received`: runs a delivery's
actions after the provider got its answer.

Delivery is at least once (platform bus: retries with backoff, then the
dead-letter queue), so every effect is made idempotent: the task through
CreateTask's request_id (a key derived from the integration and delivery),
each message through the effect ledger, recorded the moment the provider
accepted it. A consumer that fails half-way is retried and skips what landed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import asyncpg
import grpc
from aether.events.v1 import event_pb2
from aether.integrations.v1 import events_pb2
from aether.tasks.v1 import tasks_service_pb2, tasks_service_pb2_grpc
from google.protobuf.json_format import MessageToDict

from servers.integrations import rules
from servers.integrations.domain import (
    DiscordCredentials,
    Integration,
    PostedMessage,
    Provider,
    SlackCredentials,
    Status,
)
from servers.integrations.providers import Providers
from servers.integrations.queries import IntegrationQueries
from servers.integrations.store import Ledger
from servers.integrations.vault import Vault
from servers.platform.clients import acting_as
from servers.platform.scoping import Viewer

log = logging.getLogger("aether.integrations.actions")
SERVICE = "integrations"
TASK_CALL_TIMEOUT = 10.0
# Discord interaction tokens go into a URL path: letters, digits, "_", "-" and single dots.
INTERACTION_TOKEN = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class WebhookActions:
    def __init__(
        self,
        reads: IntegrationQueries,
        ledger: Ledger,
        vault: Vault,
        providers: Providers,
        tasks: Callable[[], tasks_service_pb2_grpc.TaskServiceStub],
    ):
        self._reads = reads
        self._ledger = ledger
        self._vault = vault
        self._providers = providers
        self._tasks = tasks

    async def __call__(self, event: event_pb2.Event, conn: asyncpg.Connection) -> None:
        received = events_pb2.WebhookReceived()
        event.payload.Unpack(received)
        found = await self._reads.with_credentials(received.integration_id, None)
        if found is None or found[0].status is Status.DISABLED:
            return  # deleted or disabled since: nothing to act for
        integration, _ = found
        payload = MessageToDict(received.payload, preserving_proto_field_name=True)
        if not rules.acts_on(integration, received.event, payload):
            return
        draft = rules.task_for(integration.provider, received.event, payload)
        if draft is None:
            return
        delivery = received.delivery_id
        task = await self._create_task(integration, delivery, draft)
        await self._ledger.note_action(integration.id, delivery, f"task.created:{task.id}")
        reply = f"Task created: {task.title} ({task.id})"
        if integration.provider is Provider.SLACK:
            channel = str(payload.get("channel_id", ""))
            await self._post(integration, delivery, "reply", channel, reply)
        elif integration.provider is Provider.DISCORD:
            await self._follow_up(integration, delivery, payload, reply)
        elif rules.notifies(received.event):
            await self._notify(integration, delivery, payload, draft.title)
        await self._ledger.mark_processed(integration.id, delivery)

    async def _create_task(
        self, integration: Integration, delivery: str, draft: rules.TaskDraft
    ) -> tasks_service_pb2.Task:  # type: ignore[name-defined]
        request = tasks_service_pb2.CreateTaskRequest(
            title=draft.title,
            description=draft.description,
            category=draft.category,
            tags=list(draft.tags),
            request_id=rules.request_id(integration.id, delivery, "task"),
        )
        with acting_as(SERVICE, on_behalf_of=integration.user_id, permissions=["tasks:write"]):
            try:
                return await self._tasks().CreateTask(request, timeout=TASK_CALL_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                log.warning(
                    "creating the task failed",
                    extra={"code": exc.code().name, "integration_id": integration.id},
                )
                raise

    async def _notify(self, integration: Integration, delivery: str, payload: dict, title: str) -> None:
        """The message about an opened pull request, to the configured Slack or Discord channel."""
        target_id = str(integration.config.get("notify_integration_id") or "")
        if not target_id:
            return
        found = await self._reads.with_credentials(target_id, Viewer(integration.user_id))
        if found is None or found[0].status is not Status.ACTIVE:
            log.warning("notify target gone or inactive", extra={"integration_id": integration.id})
            return
        target, _ = found
        channel = str(integration.config.get("notify_channel") or target.config.get("default_channel") or "")
        if not channel:
            return
        url = ((payload.get("pull_request") or {}).get("html_url")) or ""
        text = f"New pull request: {title} {url}".strip()
        await self._post(target, delivery, f"notify:{integration.id}", channel, text, source=integration)

    async def _post(
        self,
        target: Integration,
        delivery: str,
        what: str,
        channel: str,
        text: str,
        source: Integration | None = None,
    ) -> None:
        source = source or target
        key = rules.request_id(source.id, delivery, what)
        if await self._ledger.get(key) is not None:
            return
        found = await self._reads.with_credentials(target.id, Viewer(target.user_id))
        assert found is not None
        credentials = self._vault.open(target.id, target.provider, found[1])
        posted: PostedMessage
        if isinstance(credentials, SlackCredentials):
            posted = await self._providers.slack.post(credentials.bot_token, channel.lstrip("#"), text)
            action = f"slack.message:{posted.channel}"
        elif isinstance(credentials, DiscordCredentials):
            posted = await self._providers.discord.send(credentials.bot_token, channel, text)
            action = f"discord.message:{posted.channel}"
        else:
            return
        await self._ledger.put(key, {"id": posted.message_id, "channel": posted.channel})
        await self._ledger.note_action(source.id, delivery, action)

    async def _follow_up(self, integration: Integration, delivery: str, payload: dict, text: str) -> None:
        """The result of a deferred Discord interaction, as its follow-up message."""
        key = rules.request_id(integration.id, delivery, "reply")
        token = str(payload.get("token", ""))
        application_id = str(payload.get("application_id", ""))
        if await self._ledger.get(key) is not None or not INTERACTION_TOKEN.match(token):
            return
        if not application_id.isdigit():
            return
        posted = await self._providers.discord.follow_up(application_id, token, text)
        await self._ledger.put(key, {"id": posted.message_id})
        await self._ledger.note_action(integration.id, delivery, "discord.follow_up")

"""Integration Hub use cases: connect, list, get, delete, receive a webhook,
and the outbound calls. Owner scoping comes from the caller (platform.scoping);
a delivery's log row and its `integration.webhook.received` event commit in one
unit of work, and its actions run afterwards (servers.integrations.actions)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from servers.integrations import rules, webhooks
from servers.integrations.domain import (
    Channel,
    Credentials,
    DiscordCredentials,
    GithubCredentials,
    Guild,
    Integration,
    Issue,
    ListQuery,
    NewIntegration,
    PostedMessage,
    Provider,
    Receipt,
    Repo,
    SlackCredentials,
    Status,
    WebhookReceived,
    clean_config,
)
from servers.integrations.providers import Providers
from servers.integrations.providers.http import CredentialsRejected
from servers.integrations.store import Ledger
from servers.integrations.vault import Sealed, Vault
from servers.platform.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from servers.platform.paging import Page, PageRequest
from servers.platform.scoping import Viewer, current_viewer
from servers.platform.uow import UnitOfWork

log = logging.getLogger("aether.integrations")
T = TypeVar("T")
C = TypeVar("C", bound=Credentials)


class IntegrationWrites(Protocol):
    """The repository inside a unit of work (servers.integrations.store)."""

    async def insert(
        self, integration_id: uuid.UUID, owner: str, new: NewIntegration, sealed: Sealed, request_id: str
    ) -> Integration | None: ...
    async def by_request_id(self, owner: str, request_id: str) -> Integration | None: ...
    async def delete(self, integration_id: str, viewer: Viewer) -> Integration | None: ...
    async def insert_delivery(self, integration_id: str, delivery_id: str, event: str) -> bool: ...
    async def actions_of(self, integration_id: str, delivery_id: str) -> tuple[str, ...]: ...


class IntegrationReads(Protocol):
    """Reads outside a transaction (servers.integrations.queries)."""

    async def get(self, integration_id: str, viewer: Viewer) -> Integration | None: ...
    async def with_credentials(
        self, integration_id: str, viewer: Viewer | None
    ) -> tuple[Integration, Sealed] | None: ...
    async def list(self, query: ListQuery) -> Page[Integration]: ...


class IntegrationUseCases:
    def __init__(
        self,
        uow: UnitOfWork[IntegrationWrites],
        reads: IntegrationReads,
        ledger: Ledger,
        vault: Vault,
        providers: Providers,
        clock: Callable[[], float] = time.time,
    ):
        self._uow = uow
        self._reads = reads
        self._ledger = ledger
        self._vault = vault
        self._providers = providers
        self._clock = clock

    # --- connect, list, get, delete -------------------------------------------------

    async def connect(self, new: NewIntegration, request_id: str) -> tuple[Integration, str]:
        """The new integration and a message; a retried request_id returns the first."""
        owner = current_viewer().user_id
        if request_id:
            async with self._uow() as tx:
                existing = await tx.repo.by_request_id(owner, request_id)
            if existing is not None:
                return existing, f"Already connected as {existing.name}"
        new = NewIntegration(new.name, new.credentials, clean_config(new.provider, new.config))
        await self._check_notify_target(new, owner)
        integration_id = uuid.uuid4()
        sealed = self._vault.seal(str(integration_id), new.credentials)  # NOT_CONFIGURED before any call
        account = await self._providers.verify(new.credentials)  # rejected: nothing is stored
        title = new.provider.display_name
        named = NewIntegration(new.name or f"{title} {account.display}"[:100], new.credentials, new.config)
        async with self._uow() as tx:
            integration = await tx.repo.insert(integration_id, owner, named, sealed, request_id)
            if integration is None:  # a concurrent retry with the same request_id won
                integration = await tx.repo.by_request_id(owner, request_id)
        assert integration is not None
        log.info("integration connected", extra={"integration_id": integration.id, "type": title})
        return integration, f"Connected to {title} as {account.display}"

    async def _check_notify_target(self, new: NewIntegration, owner: str) -> None:
        target_id = new.config.get("notify_integration_id")
        if not target_id:
            return
        target = await self._reads.get(str(target_id), Viewer(owner))
        if target is None or target.provider is Provider.GITHUB:
            raise InvalidArgument(
                "notify_integration_id must name one of your Slack or Discord integrations",
                [
                    FieldViolation(
                        "config.notify_integration_id", "not one of your Slack or Discord integrations"
                    )
                ],
            )

    async def list_page(self, query: ListQuery, requested_user: str) -> Page[Integration]:
        target = current_viewer().target(requested_user, what="integrations")
        return await self._reads.list(
            ListQuery(query.page, query.sort, query.descending, query.provider, query.status, target)
        )

    async def get(self, integration_id: str) -> Integration:
        found = await self._reads.get(integration_id, current_viewer())
        if found is None:
            raise NotFound("integration not found")
        return found

    async def delete(self, integration_id: str) -> Integration:
        async with self._uow() as tx:
            deleted = await tx.repo.delete(integration_id, current_viewer())
        if deleted is None:
            raise NotFound("integration not found")
        log.info("integration deleted", extra={"integration_id": deleted.id})
        return deleted

    # --- webhooks ---------------------------------------------------------------

    async def receive(
        self, integration_id: str, headers: Mapping[str, str], body: bytes, content_type: str
    ) -> Receipt:
        """Verify over the exact bytes, log once, emit the event; nothing else here."""
        found = await self._reads.with_credentials(integration_id, None)
        if found is None or found[0].status is Status.DISABLED:
            raise Unauthenticated(webhooks.REJECTED)  # unknown and unsigned look alike
        integration, sealed = found
        credentials = self._vault.open(integration.id, integration.provider, sealed)
        webhooks.verify(credentials, headers, body, self._clock())
        delivery = webhooks.parse(credentials, headers, body, content_type)
        if delivery.handshake:
            return Receipt(delivery, duplicate=False)
        if delivery.actionable and not rules.acts_on(integration, delivery.event, delivery.payload):
            delivery = replace(delivery, actionable=False)
        async with self._uow() as tx:
            if not await tx.repo.insert_delivery(integration.id, delivery.delivery_id, delivery.event):
                actions = await tx.repo.actions_of(integration.id, delivery.delivery_id)
                log.info(
                    "duplicate webhook delivery",
                    extra={
                        "integration_id": integration.id,
                        "delivery_id": delivery.delivery_id,
                        "retry_num": headers.get("x-slack-retry-num", ""),
                    },
                )
                return Receipt(delivery, duplicate=True, actions_taken=actions)
            tx.record(WebhookReceived(integration, delivery))
        return Receipt(delivery, duplicate=False)

    # --- outbound ---------------------------------------------------------------

    async def _credentials(self, integration_id: str, kind: type[C]) -> tuple[Integration, C]:
        found = await self._reads.with_credentials(integration_id, current_viewer())
        if found is None:
            raise NotFound("integration not found")
        integration, sealed = found
        credentials = self._vault.open(integration.id, integration.provider, sealed)
        if not isinstance(credentials, kind):
            raise FailedPrecondition(
                f"integration {integration.id} is not a {kind.__name__[:-11]} integration"
            )
        if integration.status is not Status.ACTIVE:
            raise FailedPrecondition(
                f"integration is {integration.status.value}: {integration.status_message}"
            )
        return integration, credentials

    async def _call(self, integration: Integration, call: Awaitable[T]) -> T:
        """A provider call; rejected credentials put the integration in ERROR."""
        try:
            result = await call
        except CredentialsRejected as exc:
            await self._ledger.set_status(integration.id, Status.ERROR, exc.message)
            raise
        await self._ledger.touch(integration.id)
        return result

    async def list_repos(self, integration_id: str, page: PageRequest, private: bool | None) -> Page[Repo]:
        integration, creds = await self._credentials(integration_id, GithubCredentials)
        repos = await self._call(integration, self._providers.github.repos(creds.token))
        if private is not None:
            repos = [r for r in repos if r.private is private]
        epoch = datetime.min.replace(tzinfo=UTC)
        repos.sort(key=lambda r: (r.pushed_at or epoch, r.id), reverse=True)
        return page.slice(repos)

    async def _once(self, key: str, send: Callable[[], Awaitable[PostedMessage]]) -> PostedMessage:
        """A send under an idempotency key: a retry returns the first result."""
        if key and (done := await self._ledger.get(key)) is not None:
            return PostedMessage(done["id"], done["channel"], datetime.fromisoformat(done["at"]))
        posted = await send()
        if key:
            await self._ledger.put(
                key, {"id": posted.message_id, "channel": posted.channel, "at": posted.timestamp.isoformat()}
            )
        return posted

    async def send_slack(
        self, integration_id: str, channel: str, text: str, thread_ts: str, request_id: str
    ) -> PostedMessage:
        integration, creds = await self._credentials(integration_id, SlackCredentials)
        key = f"send:{current_viewer().user_id}:{request_id}" if request_id else ""
        slack = self._providers.slack
        return await self._once(
            key,
            lambda: self._call(
                integration, slack.post(creds.bot_token, channel.lstrip("#"), text, thread_ts)
            ),
        )

    async def send_discord(
        self, integration_id: str, channel: str, text: str, reply_to: str, request_id: str
    ) -> PostedMessage:
        integration, creds = await self._credentials(integration_id, DiscordCredentials)
        key = f"send:{current_viewer().user_id}:{request_id}" if request_id else ""
        discord = self._providers.discord
        return await self._once(
            key, lambda: self._call(integration, discord.send(creds.bot_token, channel, text, reply_to))
        )

    async def create_issue(
        self, integration_id: str, repository: str, title: str, body: str, request_id: str
    ) -> Issue:
        if any(part in (".", "..") for part in repository.split("/")):
            raise InvalidArgument("not a repository", [FieldViolation("repository", 'must be "owner/name"')])
        integration, creds = await self._credentials(integration_id, GithubCredentials)
        key = f"issue:{current_viewer().user_id}:{request_id}" if request_id else ""
        if key and (done := await self._ledger.get(key)) is not None:
            return Issue(int(done["number"]), str(done["url"]))
        issue = await self._call(
            integration, self._providers.github.create_issue(creds.token, repository, title, body)
        )
        if key:
            await self._ledger.put(key, {"number": issue.number, "url": issue.html_url})
        return issue

    async def slack_channels(self, integration_id: str, page: PageRequest) -> Page[Channel]:
        integration, creds = await self._credentials(integration_id, SlackCredentials)
        channels = await self._call(integration, self._providers.slack.channels(creds.bot_token))
        return page.slice(sorted(channels, key=lambda c: (c.name, c.id)))

    async def discord_guilds(self, integration_id: str, page: PageRequest) -> Page[Guild]:
        integration, creds = await self._credentials(integration_id, DiscordCredentials)
        guilds = await self._call(integration, self._providers.discord.guilds(creds.bot_token))
        return page.slice(sorted(guilds, key=lambda g: (g.name, g.id)))

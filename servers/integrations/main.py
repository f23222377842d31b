"""Composition root of the Integration Hub: settings -> vault, provider clients,
store -> use cases -> servicer, plus the outbox consumer that runs webhook actions."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from aether.integrations.v1 import integrations_service_pb2_grpc
from aether.tasks.v1 import tasks_service_pb2_grpc
from pydantic import SecretStr

from servers.integrations import mapping
from servers.integrations.actions import WebhookActions
from servers.integrations.providers import Providers
from servers.integrations.queries import IntegrationQueries
from servers.integrations.service import IntegrationServicer
from servers.integrations.store import IntegrationRepository, Ledger
from servers.integrations.usecases import IntegrationUseCases
from servers.integrations.vault import Vault
from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.settings import PlatformSettings
from servers.platform.uow import PostgresUnitOfWork

CONSUMER = "integrations"


class IntegrationsSettings(PlatformSettings):
    # The only hosts outbound calls go to (no request can name a URL).
    github_api_base: str = "https://api.github.com"
    slack_api_base: str = "https://slack.com/api"
    discord_api_base: str = "https://discord.com/api/v10"
    # Credential keys, "id:urlsafe-base64-32-bytes,...", and the id new credentials are
    # sealed under (default: the last listed). Unset: AETHER_SECRET_KEY under id "default".
    integrations_keys: SecretStr = SecretStr("")
    integrations_key_id: str | None = None
    # Attempts per provider call, and the longest rate-limit wait slept before retrying
    # (longer ones are RESOURCE_EXHAUSTED with RetryInfo).
    integrations_provider_attempts: int = 3
    integrations_max_retry_wait_seconds: float = 5.0

    def vault(self) -> Vault:
        fallback = self.aether_secret_key.get_secret_value() if self.aether_secret_key else None
        return Vault.from_settings(
            self.integrations_keys.get_secret_value(), self.integrations_key_id, fallback
        )


def unit_of_work(pool: asyncpg.Pool) -> PostgresUnitOfWork[IntegrationRepository]:
    """The Integration Hub's unit of work: its repository and its event mapping."""
    return PostgresUnitOfWork(
        pool, source="integrations", repository=IntegrationRepository, to_event=mapping.to_event
    )


async def build(res: Resources) -> Mount:
    s = IntegrationsSettings()
    if res.pool is None or res.bus is None:
        raise SystemExit("the integrations service needs DATABASE_URL")
    vault = s.vault()
    providers = Providers.at(
        s.github_api_base,
        s.slack_api_base,
        s.discord_api_base,
        max_attempts=s.integrations_provider_attempts,
        max_wait_seconds=s.integrations_max_retry_wait_seconds,
    )
    reads, ledger = IntegrationQueries(res.pool), Ledger(res.pool)

    # Resolved per call: a co-located Task service is known only once the server listens.
    def tasks() -> tasks_service_pb2_grpc.TaskServiceStub:
        return res.clients.stub("tasks", tasks_service_pb2_grpc.TaskServiceStub)

    actions = WebhookActions(reads, ledger, vault, providers, tasks)
    res.bus.subscribe("integration.webhook.received", actions, consumer=CONSUMER)
    usecases = IntegrationUseCases(unit_of_work(res.pool), reads, ledger, vault, providers)
    return Mount(
        services=[
            Service(
                "aether.integrations.v1.IntegrationService",
                IntegrationServicer(usecases),
                integrations_service_pb2_grpc.add_IntegrationServiceServicer_to_server,
            )
        ],
        on_stop=[providers.close],
    )


DOMAIN = Domain(name="integrations", build=build, migrations=Path(__file__).with_name("migrations"))

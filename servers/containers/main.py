"""Composition root of the Docker Manager: settings -> Docker engine client ->
use cases (with the audit trail's unit of work) -> servicer."""

from __future__ import annotations

import asyncpg
from aether.containers.v1 import containers_service_pb2_grpc
from pydantic import model_validator

from servers.containers import mapping
from servers.containers.domain import LabelFilter
from servers.containers.engine import DockerEngine
from servers.containers.service import ContainerServicer
from servers.containers.usecases import ContainerUseCases
from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.settings import PlatformSettings
from servers.platform.uow import PostgresUnitOfWork


class ContainersSettings(PlatformSettings):
    # The Docker Engine: "unix:///path/docker.sock" or "tcp://host:2375". Never from a request.
    docker_host: str = "unix:///var/run/docker.sock"
    # Only containers with this label ("key" or "key=value") are visible and can be acted on.
    containers_label_filter: str = "aether.managed=true"
    # The label allow-list is off only when this is set to false (an empty filter is an error).
    containers_label_filter_enabled: bool = True
    # Registry hosts pulls may use, comma-separated ("docker.io" for Docker Hub); empty = any.
    containers_allowed_registries: str = ""
    # Longest a logs-follow or stats stream runs before it ends (the client reconnects), and a pull.
    containers_stream_max_seconds: float = 3600.0
    # Timeout of one non-streaming engine request.
    containers_engine_timeout_seconds: float = 30.0

    @model_validator(mode="after")
    def _filter_given(self) -> ContainersSettings:
        if self.containers_label_filter_enabled:
            LabelFilter.parse(self.containers_label_filter)  # ValueError names the bad value
        return self

    @property
    def label_filter(self) -> LabelFilter | None:
        return (
            LabelFilter.parse(self.containers_label_filter) if self.containers_label_filter_enabled else None
        )

    @property
    def allowed_registries(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.containers_allowed_registries.split(",") if r.strip())


def unit_of_work(pool: asyncpg.Pool) -> PostgresUnitOfWork[None]:
    """The audit trail: events only, no tables of its own."""
    return PostgresUnitOfWork(
        pool, source="containers", repository=lambda _conn: None, to_event=mapping.to_event
    )


async def build(res: Resources) -> Mount:
    s = ContainersSettings()
    if res.pool is None:
        raise SystemExit("the containers service needs DATABASE_URL (its audit events go to the outbox)")
    engine = DockerEngine(s.docker_host, s.containers_engine_timeout_seconds)
    usecases = ContainerUseCases(
        engine,
        unit_of_work(res.pool),
        label=s.label_filter,
        registries=s.allowed_registries,
        max_stream_seconds=s.containers_stream_max_seconds,
    )
    return Mount(
        services=[
            Service(
                "aether.containers.v1.ContainerService",
                ContainerServicer(usecases),
                containers_service_pb2_grpc.add_ContainerServiceServicer_to_server,
            )
        ],
        on_stop=[engine.close],
    )


DOMAIN = Domain(name="containers", build=build)

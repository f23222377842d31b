"""The Integration Hub's writes inside a unit of work (schema `integrations`):
integrations with their sealed credentials, deliveries, and the effect ledger.
Every query on an integration a caller names is scoped by owner (unless the
viewer is an admin); webhook and consumer lookups go by id alone because the
provider's signature, not a caller, authenticates them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from servers.integrations.domain import Integration, NewIntegration, Provider, Status
from servers.integrations.vault import Sealed
from servers.platform.errors import AlreadyExists, FieldViolation
from servers.platform.scoping import Viewer

COLUMNS = "id, user_id, name, type, status, status_message, config, created_at, updated_at, last_sync"


def parse_id(integration_id: str) -> uuid.UUID | None:
    """An integration id as a UUID; None for anything else (then simply not found)."""
    try:
        return uuid.UUID(integration_id)
    except ValueError:
        return None


def integration_from_row(row: asyncpg.Record) -> Integration:
    return Integration(
        id=str(row["id"]),
        user_id=row["user_id"],
        name=row["name"],
        provider=Provider(row["type"]),
        status=Status(row["status"]),
        status_message=row["status_message"],
        config=json.loads(row["config"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_sync=row["last_sync"],
    )


def sealed_from_row(row: asyncpg.Record) -> Sealed:
    return Sealed(row["key_id"], bytes(row["credentials"]))


def owner_scope(viewer: Viewer, param: int) -> tuple[str, list[Any]]:
    if viewer.is_admin:
        return "TRUE", []
    return f"user_id = ${param}", [viewer.user_id]


@dataclass
class IntegrationRepository:
    """The integrations schema on the connection of one unit of work."""

    conn: asyncpg.Connection

    async def insert(
        self, integration_id: uuid.UUID, owner: str, new: NewIntegration, sealed: Sealed, request_id: str
    ) -> Integration | None:
        """The new integration; None if `request_id` was used before (see by_request_id)."""
        try:
            row = await self.conn.fetchrow(
                f"""INSERT INTO integrations.integrations
                       (id, user_id, name, type, config, key_id, credentials, request_id, last_sync)
                    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, NULLIF($8, ''), now())
                    ON CONFLICT (user_id, request_id) WHERE request_id IS NOT NULL DO NOTHING
                    RETURNING {COLUMNS}""",  # noqa: S608
                integration_id,
                owner,
                new.name,
                new.provider.value,
                json.dumps(new.config),
                sealed.key_id,
                sealed.ciphertext,
                request_id,
            )
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists(
                "you already have an integration with this name", [FieldViolation("name", "already used")]
            ) from exc
        return None if row is None else integration_from_row(row)

    async def by_request_id(self, owner: str, request_id: str) -> Integration | None:
        row = await self.conn.fetchrow(
            f"SELECT {COLUMNS} FROM integrations.integrations WHERE user_id = $1 AND request_id = $2",  # noqa: S608
            owner,
            request_id,
        )
        return None if row is None else integration_from_row(row)

    async def delete(self, integration_id: str, viewer: Viewer) -> Integration | None:
        """Deletes the visible integration with its credentials and deliveries."""
        iid = parse_id(integration_id)
        if iid is None:
            return None
        scope, args = owner_scope(viewer, 2)
        row = await self.conn.fetchrow(
            f"DELETE FROM integrations.integrations WHERE id = $1 AND {scope} RETURNING {COLUMNS}",  # noqa: S608
            iid,
            *args,
        )
        return None if row is None else integration_from_row(row)

    async def insert_delivery(self, integration_id: str, delivery_id: str, event: str) -> bool:
        """Logs a delivery; False if its id was seen before (a duplicate or a replay)."""
        status = await self.conn.execute(
            """INSERT INTO integrations.deliveries (integration_id, delivery_id, event)
               VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
            uuid.UUID(integration_id),
            delivery_id,
            event,
        )
        # At most once a second: every delivery locking the integration's row would
        # serialize an integration's concurrent deliveries on it.
        await self.conn.execute(
            """UPDATE integrations.integrations SET last_sync = now()
               WHERE id = $1 AND (last_sync IS NULL OR last_sync < now() - interval '1 second')""",
            uuid.UUID(integration_id),
        )
        return bool(status == "INSERT 0 1")

    async def actions_of(self, integration_id: str, delivery_id: str) -> tuple[str, ...]:
        actions = await self.conn.fetchval(
            """SELECT actions_taken FROM integrations.deliveries
               WHERE integration_id = $1 AND delivery_id = $2""",
            uuid.UUID(integration_id),
            delivery_id,
        )
        return tuple(actions or ())


class Ledger:
    """Single-statement writes outside a unit of work: the effect ledger (each
    outside effect under a key, recorded once, right after the provider
    accepted it, so a consumer that fails later and is retried skips it), the
    delivery log's actions, and an integration's status and last sync."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    async def get(self, key: str) -> dict[str, Any] | None:
        value = await self._pool.fetchval("SELECT result FROM integrations.effects WHERE key = $1", key)
        return None if value is None else dict(json.loads(value))

    async def put(self, key: str, result: dict[str, Any]) -> None:
        await self._pool.execute(
            "INSERT INTO integrations.effects (key, result) VALUES ($1, $2::jsonb) ON CONFLICT DO NOTHING",
            key,
            json.dumps(result),
        )

    async def note_action(self, integration_id: str, delivery_id: str, action: str) -> None:
        """Adds what a delivery's consumer did to the delivery's log (once)."""
        await self._pool.execute(
            """UPDATE integrations.deliveries
               SET actions_taken = CASE WHEN $3 = ANY (actions_taken) THEN actions_taken
                                        ELSE array_append(actions_taken, $3) END
               WHERE integration_id = $1 AND delivery_id = $2""",
            uuid.UUID(integration_id),
            delivery_id,
            action,
        )

    async def mark_processed(self, integration_id: str, delivery_id: str) -> None:
        await self._pool.execute(
            """UPDATE integrations.deliveries SET processed_at = coalesce(processed_at, now())
               WHERE integration_id = $1 AND delivery_id = $2""",
            uuid.UUID(integration_id),
            delivery_id,
        )

    async def set_status(self, integration_id: str, status: Status, message: str) -> None:
        await self._pool.execute(
            """UPDATE integrations.integrations SET status = $2, status_message = $3, updated_at = now()
               WHERE id = $1""",
            uuid.UUID(integration_id),
            status.value,
            message,
        )

    async def touch(self, integration_id: str) -> None:
        await self._pool.execute(
            "UPDATE integrations.integrations SET last_sync = now() WHERE id = $1", uuid.UUID(integration_id)
        )

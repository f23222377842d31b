"""Reads of the Integration Hub outside a transaction, owner-scoped like every
query (servers.integrations.store), plus the credential lookups of webhooks
and the consumer (by id: the provider's signature authenticates those)."""

from __future__ import annotations

import asyncpg

from servers.integrations.domain import SORT_COLUMNS, Integration, ListQuery
from servers.integrations.store import COLUMNS, integration_from_row, owner_scope, parse_id, sealed_from_row
from servers.integrations.vault import Sealed
from servers.platform.paging import Page
from servers.platform.scoping import Viewer


class IntegrationQueries:
    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    async def get(self, integration_id: str, viewer: Viewer) -> Integration | None:
        found = await self.with_credentials(integration_id, viewer)
        return None if found is None else found[0]

    async def with_credentials(
        self, integration_id: str, viewer: Viewer | None
    ) -> tuple[Integration, Sealed] | None:
        """The integration and its sealed credentials; `viewer` None = by id alone."""
        iid = parse_id(integration_id)
        if iid is None:
            return None
        scope, args = ("TRUE", []) if viewer is None else owner_scope(viewer, 2)
        row = await self.pool.fetchrow(
            f"""SELECT {COLUMNS}, key_id, credentials FROM integrations.integrations
                WHERE id = $1 AND {scope}""",  # noqa: S608
            iid,
            *args,
        )
        return None if row is None else (integration_from_row(row), sealed_from_row(row))

    async def list(self, query: ListQuery) -> Page[Integration]:
        where, args = ["TRUE"], []
        for column, value in (("user_id", query.user_id), ("type", query.provider), ("status", query.status)):
            if value:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        order = "DESC" if query.descending else "ASC"
        nulls = "NULLS LAST" if query.descending else "NULLS FIRST"
        sort = f"{SORT_COLUMNS[query.sort]} {order} {nulls}, id {order}"
        condition = " AND ".join(where)
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(
                f"SELECT count(*) FROM integrations.integrations WHERE {condition}",  # noqa: S608
                *args,
            )
            rows = await conn.fetch(
                f"""SELECT {COLUMNS} FROM integrations.integrations WHERE {condition}
                    ORDER BY {sort} LIMIT {query.page.limit} OFFSET {query.page.offset}""",  # noqa: S608
                *args,
            )
        return Page([integration_from_row(r) for r in rows], int(total), query.page)

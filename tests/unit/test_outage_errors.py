"""Which errors are a backing service's outage (UNAVAILABLE with RetryInfo) rather than a bug."""

from __future__ import annotations

import asyncpg
import pytest

from servers.platform.errors import is_outage


def _raised_while_handling(outage: BaseException, then: BaseException) -> BaseException:
    try:
        try:
            raise outage
        except type(outage):
            raise then  # noqa: B904 - the implicit context is the point
    except type(then) as error:
        return error


def test_an_error_raised_while_handling_a_cut_connection_is_an_outage() -> None:
    # What asyncpg raises when PostgreSQL goes away mid-transaction.
    error = _raised_while_handling(
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed"),
    )
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [asyncpg.InterfaceError("another operation is in progress"), ValueError("bug"), KeyError("x")],
)
def test_other_errors_are_not_outages(error: BaseException) -> None:
    assert not is_outage(error)


def test_a_connection_refused_is_an_outage() -> None:
    assert is_outage(ConnectionRefusedError(111, "refused"))

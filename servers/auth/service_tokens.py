"""Service tokens: short-lived access tokens for Aether's own services acting
on behalf of a user (background work). See servers/platform/identity.py for
the model and docs/security.md for why it is safe.

The caller proves it is the service it names with the service credential
(an HMAC of the name under a key derived from AETHER_SECRET_KEY) in the
`x-aether-service-credential` metadata; the token gets the internal audience,
so Envoy (public audience only) refuses it at the edge.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import grpc
import jwt
from aether.auth.v1 import service_tokens_service_pb2 as pb
from aether.auth.v1 import service_tokens_service_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from servers.auth.domain import User
from servers.auth.keys import ALGORITHM, KeyRing
from servers.platform.errors import NotFound, PermissionDenied, Unauthenticated
from servers.platform.identity import SERVICE_CREDENTIAL_METADATA, credential_matches
from servers.platform.tokens import SERVICE_SUBJECT_PREFIX


class Users(Protocol):
    async def get_user(self, user_id: str) -> User | None: ...


@dataclass(frozen=True)
class ServiceTokenPolicy:
    issuer: str
    audience: str  # the internal audience, never the public one
    ttl_seconds: int


@dataclass(frozen=True)
class ServiceToken:
    access_token: str
    expires_at: int  # Unix seconds


class ServiceTokenIssuer:
    """Checks a service's credential and signs its token with the active key."""

    def __init__(
        self,
        keys: KeyRing,
        users: Users,
        secret_key: str,
        policy: ServiceTokenPolicy,
        clock: Callable[[], float] = time.time,
    ):
        self._keys = keys
        self._users = users
        self._secret_key = secret_key
        self._policy = policy
        self._clock = clock

    async def issue(
        self, service: str, credential: str | None, on_behalf_of: str, permissions: list[str]
    ) -> ServiceToken:
        if not credential:
            raise Unauthenticated("missing service credential")
        if not credential_matches(self._secret_key, service, credential):
            raise PermissionDenied("not a valid service credential for this service")
        user = await self._users.get_user(on_behalf_of)
        if user is None or user.disabled:  # a disabled account's background work stops too
            raise NotFound("the user to act on behalf of does not exist")
        granted = set(user.permissions)
        if permissions:
            granted &= set(permissions)  # a declared subset, never more than the user has
        key = await self._keys.active()
        now = int(self._clock())
        expires_at = now + self._policy.ttl_seconds
        claims: dict[str, Any] = {
            "iss": self._policy.issuer,
            "aud": self._policy.audience,
            "sub": SERVICE_SUBJECT_PREFIX + service,
            "on_behalf_of": user.id,
            "email": user.email,
            "roles": list(user.roles),
            "permissions": sorted(granted),
            "iat": now,
            "nbf": now,
            "exp": expires_at,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        return ServiceToken(token, expires_at)


class ServiceTokenServicer(service_tokens_service_pb2_grpc.ServiceTokenServiceServicer):
    def __init__(self, issuer: ServiceTokenIssuer):
        self._issuer = issuer

    async def IssueServiceToken(
        self, request: pb.IssueServiceTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueServiceTokenResponse:
        credential = next(
            (v for k, v in context.invocation_metadata() or () if k == SERVICE_CREDENTIAL_METADATA), None
        )
        token = await self._issuer.issue(
            request.service,
            credential if isinstance(credential, str) or credential is None else credential.decode(),
            request.on_behalf_of,
            list(request.permissions),
        )
        expires_at = Timestamp()
        expires_at.FromDatetime(datetime.fromtimestamp(token.expires_at, UTC))
        return pb.IssueServiceTokenResponse(access_token=token.access_token, expires_at=expires_at)

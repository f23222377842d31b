"""Composition root of the auth service: settings -> store -> use cases -> servicer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aether.auth.v1 import (
    auth_service_pb2_grpc,
    service_tokens_service_pb2_grpc,
    user_admin_service_pb2_grpc,
    user_directory_service_pb2_grpc,
)
from pydantic import SecretStr

from servers.auth import mapping
from servers.auth.admin import AdminUseCases
from servers.auth.admin_service import UserAdminServicer
from servers.auth.bootstrap import ensure_bootstrap_admin
from servers.auth.directory_service import UserDirectoryServicer
from servers.auth.keys import KeyRing, RotationPolicy, SecretKeyMismatch
from servers.auth.queries import AuthQueries
from servers.auth.revocations import TokenRevocations
from servers.auth.service import AuthServicer
from servers.auth.service_tokens import ServiceTokenIssuer, ServiceTokenPolicy, ServiceTokenServicer
from servers.auth.store import AuthRepository, AuthStore
from servers.auth.throttle import LoginThrottle, ThrottlePolicy
from servers.auth.usecases import AuthUseCases, TokenPolicy
from servers.platform.client_address import parse_networks
from servers.platform.runtime import Domain, Mount, Resources, Service
from servers.platform.secrets import SecretBox
from servers.platform.settings import PlatformSettings
from servers.platform.tokens import KeyCache, TokenVerifier
from servers.platform.uow import PostgresUnitOfWork


class AuthSettings(PlatformSettings):
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30
    signing_key_max_age_days: int = 30
    # Login throttling (servers/auth/throttle.py, docs/security.md).
    login_client_max_failures: int = 20
    login_client_window_seconds: int = 600
    login_max_failures: int = 5  # per (account, client)
    login_window_seconds: int = 900
    login_lockout_seconds: int = 900
    login_account_threshold: int = 10
    login_account_backoff_max_seconds: int = 300
    # First start with no admin yet: create this account with the admin role.
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None
    # Lifetime of service tokens (background work acting on behalf of a user).
    service_token_ttl_seconds: int = 300


async def build(res: Resources) -> Mount:
    s = AuthSettings()
    if res.pool is None or res.redis is None:
        raise SystemExit("the auth service needs DATABASE_URL and REDIS_URL")
    secret = s.aether_secret_key
    if secret is None:
        raise SystemExit("AETHER_SECRET_KEY is not set (it encrypts the token signing keys)")
    access_ttl = timedelta(seconds=s.access_token_ttl_seconds)
    store = AuthStore(res.pool)
    keys = KeyRing(
        store,
        SecretBox.from_setting(secret.get_secret_value()),
        RotationPolicy(
            max_age=timedelta(days=s.signing_key_max_age_days),
            # Longer than any verifier caches the JWKS (Envoy: 5 min, servers: JWKS_CACHE_SECONDS).
            propagation=timedelta(seconds=max(s.jwks_cache_seconds, 300) * 2),
            token_lifetime=max(access_ttl, timedelta(seconds=s.service_token_ttl_seconds))
            + timedelta(minutes=1),
        ),
    )
    try:
        await keys.active()  # create the first key now, not on the first login
    except SecretKeyMismatch as mismatch:  # a clear stop at start rather than INTERNAL on every login
        raise SystemExit(str(mismatch)) from None
    # The auth service verifies tokens from its own key ring, not over the network.
    verifier = TokenVerifier(
        KeyCache(keys.jwks, ttl=60, min_refetch=1),
        s.jwt_issuer,
        s.jwt_audience,
        internal_audience=s.jwt_internal_audience,
    )
    uow = PostgresUnitOfWork(res.pool, source="auth", repository=AuthRepository, to_event=mapping.to_event)
    # Epochs outlive every token issued before them, with the verifiers' leeway.
    longest_token = max(s.access_token_ttl_seconds, s.service_token_ttl_seconds) + 60
    revocations = TokenRevocations(res.redis, longest_token)
    throttle = ThrottlePolicy(
        client_max_failures=s.login_client_max_failures,
        client_window_seconds=s.login_client_window_seconds,
        pair_max_failures=s.login_max_failures,
        pair_window_seconds=s.login_window_seconds,
        pair_lockout_seconds=s.login_lockout_seconds,
        account_threshold=s.login_account_threshold,
        account_backoff_max_seconds=s.login_account_backoff_max_seconds,
    )
    usecases = AuthUseCases(
        uow,
        AuthQueries(res.pool),
        keys,
        LoginThrottle(res.redis, throttle),
        revocations,
        verifier,
        TokenPolicy(s.jwt_issuer, s.jwt_audience, access_ttl, timedelta(days=s.refresh_token_ttl_days)),
    )
    servicer = AuthServicer(usecases, parse_networks(s.trusted_proxies))
    admin = AdminUseCases(uow, AuthQueries(res.pool), revocations)
    if s.bootstrap_admin_email:
        password = s.bootstrap_admin_password
        if password is None:
            raise SystemExit("BOOTSTRAP_ADMIN_EMAIL needs BOOTSTRAP_ADMIN_PASSWORD")
        await ensure_bootstrap_admin(res.pool, uow, s.bootstrap_admin_email, password.get_secret_value())
    service_tokens = ServiceTokenIssuer(
        keys,
        AuthQueries(res.pool),
        secret.get_secret_value(),
        ServiceTokenPolicy(s.jwt_issuer, s.jwt_internal_audience, s.service_token_ttl_seconds),
    )
    return Mount(
        services=[
            Service(
                "aether.auth.v1.AuthService",
                servicer,
                auth_service_pb2_grpc.add_AuthServiceServicer_to_server,
            ),
            Service(
                "aether.auth.v1.UserAdminService",
                UserAdminServicer(admin),
                user_admin_service_pb2_grpc.add_UserAdminServiceServicer_to_server,
            ),
            Service(
                "aether.auth.v1.UserDirectoryService",
                UserDirectoryServicer(AuthQueries(res.pool)),
                user_directory_service_pb2_grpc.add_UserDirectoryServiceServicer_to_server,
            ),
            Service(
                "aether.auth.v1.ServiceTokenService",
                ServiceTokenServicer(service_tokens),
                service_tokens_service_pb2_grpc.add_ServiceTokenServiceServicer_to_server,
            ),
        ],
        jwks=keys.jwks,
    )


DOMAIN = Domain(name="auth", build=build, migrations=Path(__file__).with_name("migrations"))

"""Per-user token epochs: when an account's rights shrink (roles changed,
disabled, deleted, logout of all sessions, refresh-token reuse) the auth
service sets the user's epoch, and every server refuses that user's access
tokens issued before it, on the next request rather than at expiry.

The epoch is a Unix second in Redis (`auth:token-epoch:<user id>`), kept as
long as an access token can live; a token is refused when its `iat` is
before it. It is read together with the token's own revocation mark and the
caller's rate-limit bucket, in one round trip (servers.platform.admission).
"""

from __future__ import annotations


def token_epoch_key(user_id: str) -> str:
    return f"auth:token-epoch:{user_id}"

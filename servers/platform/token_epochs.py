"""Per-user token epochs: when an account's rights shrink (roles changed,
disabled, deleted, logout of all sessions, refresh-token reuse) the auth
service sets the user's epoch, and every server refuses that user's access
tokens issued before it, on the next request rather than at expiry.

The epoch is a Unix second in Redis (`auth:token-epoch:<user id>`), kept as
long as an access token can live; a token is refused when its `iat` is
before it. It is read together with the token's own revocation mark, in one
round trip, by the revocation check of every server's auth interceptor.
"""

from __future__ import annotations

from typing import Any

from servers.platform.context import Principal
from servers.platform.tokens import revoked_token_key


def token_epoch_key(user_id: str) -> str:
    return f"auth:token-epoch:{user_id}"


async def token_refused(redis: Any, principal: Principal) -> bool:
    """Whether the token was revoked (logout) or issued before its user's epoch."""
    revoked, epoch = await redis.mget(
        revoked_token_key(principal.token_id), token_epoch_key(principal.user_id)
    )
    return revoked is not None or (epoch is not None and principal.issued_at < int(epoch))

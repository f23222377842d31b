"""Domain <-> proto conversions for the auth service, in one place."""

from __future__ import annotations

from typing import Any

from aether.auth.v1 import events_pb2, user_pb2

from servers.auth.domain import AuthEvent, User, UserChanged, UserRegistered
from servers.platform.timestamps import timestamp
from servers.platform.uow import OutgoingEvent


def user_to_proto(user: User) -> user_pb2.User:
    return user_pb2.User(
        id=user.id,
        email=user.email,
        name=user.name,
        roles=list(user.roles),
        permissions=user.permissions,
        created_at=timestamp(user.created_at),
        disabled=user.disabled,
    )


def to_event(event: AuthEvent) -> OutgoingEvent:
    """The one mapping of the auth domain's events to their protos."""
    match event:
        case UserRegistered(user=user):
            payload = events_pb2.UserRegistered(user_id=user.id, email=user.email, roles=list(user.roles))
            return OutgoingEvent("user.registered", user.id, payload)
        case UserChanged(change=change, user_id=user_id, roles=roles, changed_by=changed_by):
            changed = events_pb2.UserChanged(user_id=user_id, roles=list(roles), changed_by=changed_by)
            return OutgoingEvent(change, user_id, changed)


def jwk_to_proto(jwk: dict[str, Any]) -> user_pb2.Jwk:
    return user_pb2.Jwk(**{k: v for k, v in jwk.items() if k in user_pb2.Jwk.DESCRIPTOR.fields_by_name})

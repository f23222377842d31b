"""Proto <-> domain conversions of the Integration Hub, and `to_event`, the one
mapping of its domain events to event protos. Credentials never reach a proto."""

from __future__ import annotations

import json

from aether.integrations.v1 import events_pb2, integration_pb2
from aether.integrations.v1 import integrations_service_pb2 as pb
from google.api import httpbody_pb2
from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict, MessageToJson, ParseDict

from servers.integrations.domain import (
    Channel,
    Credentials,
    DiscordCredentials,
    GithubCredentials,
    Guild,
    Integration,
    IntegrationEvent,
    ListQuery,
    NewIntegration,
    PostedMessage,
    Receipt,
    Repo,
    SlackCredentials,
    Status,
    WebhookReceived,
)
from servers.platform.errors import FieldViolation, InvalidArgument
from servers.platform.pagination import pagination
from servers.platform.paging import Page, PageRequest
from servers.platform.timestamps import timestamp
from servers.platform.uow import OutgoingEvent

STATUS_TO_PROTO = {
    Status.ACTIVE: integration_pb2.INTEGRATION_STATUS_ACTIVE,
    Status.ERROR: integration_pb2.INTEGRATION_STATUS_ERROR,
    Status.DISABLED: integration_pb2.INTEGRATION_STATUS_DISABLED,
}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}


def credentials(request: pb.ConnectIntegrationRequest) -> Credentials:
    match request.WhichOneof("credentials"):
        case "github":
            return GithubCredentials(request.github.token, request.github.webhook_secret)
        case "slack":
            return SlackCredentials(request.slack.bot_token, request.slack.signing_secret)
        case "discord":
            d = request.discord
            return DiscordCredentials(d.bot_token, d.public_key.lower(), d.application_id)
    raise InvalidArgument(
        "credentials are required", [FieldViolation("credentials", "set github, slack or discord")]
    )


def new_integration(request: pb.ConnectIntegrationRequest) -> NewIntegration:
    config = (
        MessageToDict(request.config, preserving_proto_field_name=True) if request.HasField("config") else {}
    )
    return NewIntegration(request.name.strip(), credentials(request), config)


def list_query(request: pb.ListIntegrationsRequest) -> ListQuery:
    return ListQuery(
        page=PageRequest.of(request.page, request.limit),
        sort=request.sort or "createdAt",
        descending=request.order != "asc",
        provider=request.type,
        status=STATUS_FROM_PROTO[request.status].value if request.status else "",
    )


def integration_to_proto(integration: Integration) -> integration_pb2.Integration:
    out = integration_pb2.Integration(
        id=integration.id,
        name=integration.name,
        type=integration.provider.value,
        status=STATUS_TO_PROTO[integration.status],
        created_at=timestamp(integration.created_at),
        updated_at=timestamp(integration.updated_at),
        user_id=integration.user_id,
        config=ParseDict(integration.config, struct_pb2.Struct()),
        status_message=integration.status_message,
        webhook_path=integration.webhook_path,
    )
    if integration.last_sync is not None:
        out.last_sync.CopyFrom(timestamp(integration.last_sync))
    return out


def page_to_proto(page: Page[Integration]) -> pb.ListIntegrationsResponse:
    return pb.ListIntegrationsResponse(
        integrations=[integration_to_proto(i) for i in page.items], pagination=pagination(page)
    )


def repo_to_proto(repo: Repo) -> integration_pb2.GithubRepo:
    out = integration_pb2.GithubRepo(
        id=repo.id,
        name=repo.name,
        full_name=repo.full_name,
        private=repo.private,
        stars=repo.stars,
        forks=repo.forks,
        description=repo.description,
        html_url=repo.html_url,
        default_branch=repo.default_branch,
        language=repo.language,
    )
    if repo.pushed_at is not None:
        out.pushed_at.CopyFrom(timestamp(repo.pushed_at))
    return out


def repos_to_proto(page: Page[Repo]) -> pb.ListGithubReposResponse:
    return pb.ListGithubReposResponse(
        repos=[repo_to_proto(r) for r in page.items], pagination=pagination(page)
    )


def visibility(value: int) -> bool | None:
    """The private filter of a RepoVisibility (None = any)."""
    return {int(pb.REPO_VISIBILITY_PUBLIC): False, int(pb.REPO_VISIBILITY_PRIVATE): True}.get(value)


def posted_to_slack(posted: PostedMessage) -> pb.SendSlackMessageResponse:
    return pb.SendSlackMessageResponse(
        success=True,
        message_id=posted.message_id,
        channel=posted.channel,
        timestamp=timestamp(posted.timestamp),
    )


def posted_to_discord(posted: PostedMessage) -> pb.SendDiscordMessageResponse:
    return pb.SendDiscordMessageResponse(
        success=True,
        message_id=posted.message_id,
        channel=posted.channel,
        timestamp=timestamp(posted.timestamp),
    )


def channels_to_proto(page: Page[Channel]) -> pb.ListSlackChannelsResponse:
    return pb.ListSlackChannelsResponse(
        channels=[
            pb.SlackChannel(id=c.id, name=c.name, is_member=c.is_member, is_private=c.is_private)
            for c in page.items
        ],
        pagination=pagination(page),
    )


def guilds_to_proto(page: Page[Guild]) -> pb.ListDiscordGuildsResponse:
    return pb.ListDiscordGuildsResponse(
        guilds=[pb.DiscordGuild(id=g.id, name=g.name, owner=g.owner) for g in page.items],
        pagination=pagination(page),
    )


def receipt_to_http(receipt: Receipt) -> httpbody_pb2.HttpBody:
    """The answer in the provider's format (compact JSON, so Discord's PONG is
    exactly {"type":1}), else a ReceiveWebhookResponse."""
    delivery = receipt.delivery
    if delivery.reply is not None and not receipt.duplicate:
        data = json.dumps(delivery.reply, separators=(",", ":")).encode()
    else:
        response = pb.ReceiveWebhookResponse(
            received=True,
            processed=delivery.actionable,
            actions_taken=list(receipt.actions_taken),
            event=delivery.event,
            duplicate=receipt.duplicate,
        )
        if delivery.reply is not None and receipt.duplicate and "type" in delivery.reply:
            response.type = int(delivery.reply["type"])
        data = MessageToJson(response, indent=None, always_print_fields_with_no_presence=True).encode()
    return httpbody_pb2.HttpBody(content_type="application/json", data=data)


def to_event(event: IntegrationEvent) -> OutgoingEvent:
    """The one mapping of the Integration Hub's domain events to their protos."""
    match event:
        case WebhookReceived(integration=integration, delivery=delivery, actions_taken=actions):
            payload = events_pb2.WebhookReceived(
                integration_id=integration.id,
                user_id=integration.user_id,
                service=integration.provider.value,
                event=delivery.event,
                delivery_id=delivery.delivery_id,
                processed=delivery.actionable,
                actions_taken=list(actions),
                payload=ParseDict(delivery.payload, struct_pb2.Struct()),
            )
            # A webhook has no caller: the integration's owner is the actor.
            return OutgoingEvent("integration.webhook.received", integration.id, payload, integration.user_id)

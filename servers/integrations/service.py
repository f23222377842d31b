"""gRPC transport for IntegrationService: decode, call the use case, encode."""

from __future__ import annotations

import grpc
from aether.integrations.v1 import integration_pb2, integrations_service_pb2_grpc
from aether.integrations.v1 import integrations_service_pb2 as pb
from google.api import httpbody_pb2

from servers.integrations import mapping
from servers.integrations.usecases import IntegrationUseCases
from servers.platform.paging import PageRequest


def _headers(context: grpc.aio.ServicerContext) -> dict[str, str]:
    """The request's metadata (through Envoy: its HTTP headers), lower-cased."""
    return {k.lower(): v for k, v in context.invocation_metadata() or () if isinstance(v, str)}


class IntegrationServicer(integrations_service_pb2_grpc.IntegrationServiceServicer):
    def __init__(self, usecases: IntegrationUseCases):
        self._uc = usecases

    async def ListIntegrations(
        self, request: pb.ListIntegrationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListIntegrationsResponse:
        page = await self._uc.list_page(mapping.list_query(request), request.user_id)
        return mapping.page_to_proto(page)

    async def GetIntegration(
        self, request: pb.GetIntegrationRequest, context: grpc.aio.ServicerContext
    ) -> integration_pb2.Integration:
        return mapping.integration_to_proto(await self._uc.get(request.id))

    async def ConnectIntegration(
        self, request: pb.ConnectIntegrationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConnectIntegrationResponse:
        integration, message = await self._uc.connect(mapping.new_integration(request), request.request_id)
        return pb.ConnectIntegrationResponse(
            integration_id=integration.id,
            status=mapping.STATUS_TO_PROTO[integration.status],
            message=message,
            webhook_path=integration.webhook_path,
        )

    async def DeleteIntegration(
        self, request: pb.DeleteIntegrationRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteIntegrationResponse:
        deleted = await self._uc.delete(request.id)
        return pb.DeleteIntegrationResponse(success=True, message="Integration disconnected", id=deleted.id)

    async def ReceiveWebhook(
        self, request: pb.ReceiveWebhookRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        body = request.http_body
        receipt = await self._uc.receive(
            request.integration_id, _headers(context), body.data, body.content_type
        )
        return mapping.receipt_to_http(receipt)

    async def ListGithubRepos(
        self, request: pb.ListGithubReposRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListGithubReposResponse:
        page = PageRequest.of(request.page, request.limit)
        repos = await self._uc.list_repos(
            request.integration_id, page, mapping.visibility(request.visibility)
        )
        return mapping.repos_to_proto(repos)

    async def SendSlackMessage(
        self, request: pb.SendSlackMessageRequest, context: grpc.aio.ServicerContext
    ) -> pb.SendSlackMessageResponse:
        posted = await self._uc.send_slack(
            request.integration_id, request.channel, request.message, request.thread_id, request.request_id
        )
        return mapping.posted_to_slack(posted)

    async def SendDiscordMessage(
        self, request: pb.SendDiscordMessageRequest, context: grpc.aio.ServicerContext
    ) -> pb.SendDiscordMessageResponse:
        posted = await self._uc.send_discord(
            request.integration_id, request.channel, request.message, request.reply_to_id, request.request_id
        )
        return mapping.posted_to_discord(posted)

    async def CreateGithubIssue(
        self, request: pb.CreateGithubIssueRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateGithubIssueResponse:
        issue = await self._uc.create_issue(
            request.integration_id, request.repository, request.title, request.body, request.request_id
        )
        return pb.CreateGithubIssueResponse(number=issue.number, html_url=issue.html_url)

    async def ListSlackChannels(
        self, request: pb.ListSlackChannelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSlackChannelsResponse:
        page = PageRequest.of(request.page, request.limit)
        return mapping.channels_to_proto(await self._uc.slack_channels(request.integration_id, page))

    async def ListDiscordGuilds(
        self, request: pb.ListDiscordGuildsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDiscordGuildsResponse:
        page = PageRequest.of(request.page, request.limit)
        return mapping.guilds_to_proto(await self._uc.discord_guilds(request.integration_id, page))

import datetime

from aether.common.v1 import access_pb2 as _access_pb2
from aether.common.v1 import pagination_pb2 as _pagination_pb2
from aether.integrations.v1 import integration_pb2 as _integration_pb2
from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RepoVisibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPO_VISIBILITY_UNSPECIFIED: _ClassVar[RepoVisibility]
    REPO_VISIBILITY_PUBLIC: _ClassVar[RepoVisibility]
    REPO_VISIBILITY_PRIVATE: _ClassVar[RepoVisibility]
REPO_VISIBILITY_UNSPECIFIED: RepoVisibility
REPO_VISIBILITY_PUBLIC: RepoVisibility
REPO_VISIBILITY_PRIVATE: RepoVisibility

class ListIntegrationsRequest(_message.Message):
    __slots__ = ("page", "limit", "sort", "order", "type", "status", "user_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    page: int
    limit: int
    sort: str
    order: str
    type: str
    status: _integration_pb2.IntegrationStatus
    user_id: str
    def __init__(self, page: _Optional[int] = ..., limit: _Optional[int] = ..., sort: _Optional[str] = ..., order: _Optional[str] = ..., type: _Optional[str] = ..., status: _Optional[_Union[_integration_pb2.IntegrationStatus, str]] = ..., user_id: _Optional[str] = ...) -> None: ...

class ListIntegrationsResponse(_message.Message):
    __slots__ = ("integrations", "pagination")
    INTEGRATIONS_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    integrations: _containers.RepeatedCompositeFieldContainer[_integration_pb2.Integration]
    pagination: _pagination_pb2.Pagination
    def __init__(self, integrations: _Optional[_Iterable[_Union[_integration_pb2.Integration, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...

class GetIntegrationRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ConnectIntegrationRequest(_message.Message):
    __slots__ = ("name", "github", "slack", "discord", "config", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GITHUB_FIELD_NUMBER: _ClassVar[int]
    SLACK_FIELD_NUMBER: _ClassVar[int]
    DISCORD_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    github: GithubCredentials
    slack: SlackCredentials
    discord: DiscordCredentials
    config: _struct_pb2.Struct
    request_id: str
    def __init__(self, name: _Optional[str] = ..., github: _Optional[_Union[GithubCredentials, _Mapping]] = ..., slack: _Optional[_Union[SlackCredentials, _Mapping]] = ..., discord: _Optional[_Union[DiscordCredentials, _Mapping]] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GithubCredentials(_message.Message):
    __slots__ = ("token", "webhook_secret")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    token: str
    webhook_secret: str
    def __init__(self, token: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class SlackCredentials(_message.Message):
    __slots__ = ("bot_token", "signing_secret")
    BOT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SIGNING_SECRET_FIELD_NUMBER: _ClassVar[int]
    bot_token: str
    signing_secret: str
    def __init__(self, bot_token: _Optional[str] = ..., signing_secret: _Optional[str] = ...) -> None: ...

class DiscordCredentials(_message.Message):
    __slots__ = ("bot_token", "public_key", "application_id")
    BOT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    bot_token: str
    public_key: str
    application_id: str
    def __init__(self, bot_token: _Optional[str] = ..., public_key: _Optional[str] = ..., application_id: _Optional[str] = ...) -> None: ...

class ConnectIntegrationResponse(_message.Message):
    __slots__ = ("integration_id", "status", "message", "webhook_path")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_PATH_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    status: _integration_pb2.IntegrationStatus
    message: str
    webhook_path: str
    def __init__(self, integration_id: _Optional[str] = ..., status: _Optional[_Union[_integration_pb2.IntegrationStatus, str]] = ..., message: _Optional[str] = ..., webhook_path: _Optional[str] = ...) -> None: ...

class DeleteIntegrationRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteIntegrationResponse(_message.Message):
    __slots__ = ("success", "message", "id")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    id: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ReceiveWebhookRequest(_message.Message):
    __slots__ = ("integration_id", "http_body")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    HTTP_BODY_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    http_body: _httpbody_pb2.HttpBody
    def __init__(self, integration_id: _Optional[str] = ..., http_body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ...) -> None: ...

class ReceiveWebhookResponse(_message.Message):
    __slots__ = ("received", "processed", "actions_taken", "event", "duplicate", "challenge", "type")
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_TAKEN_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    received: bool
    processed: bool
    actions_taken: _containers.RepeatedScalarFieldContainer[str]
    event: str
    duplicate: bool
    challenge: str
    type: int
    def __init__(self, received: _Optional[bool] = ..., processed: _Optional[bool] = ..., actions_taken: _Optional[_Iterable[str]] = ..., event: _Optional[str] = ..., duplicate: _Optional[bool] = ..., challenge: _Optional[str] = ..., type: _Optional[int] = ...) -> None: ...

class ListGithubReposRequest(_message.Message):
    __slots__ = ("integration_id", "page", "limit", "visibility")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    page: int
    limit: int
    visibility: RepoVisibility
    def __init__(self, integration_id: _Optional[str] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ..., visibility: _Optional[_Union[RepoVisibility, str]] = ...) -> None: ...

class ListGithubReposResponse(_message.Message):
    __slots__ = ("repos", "pagination")
    REPOS_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    repos: _containers.RepeatedCompositeFieldContainer[_integration_pb2.GithubRepo]
    pagination: _pagination_pb2.Pagination
    def __init__(self, repos: _Optional[_Iterable[_Union[_integration_pb2.GithubRepo, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...

class SendSlackMessageRequest(_message.Message):
    __slots__ = ("integration_id", "channel", "message", "thread_id", "request_id")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    channel: str
    message: str
    thread_id: str
    request_id: str
    def __init__(self, integration_id: _Optional[str] = ..., channel: _Optional[str] = ..., message: _Optional[str] = ..., thread_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SendSlackMessageResponse(_message.Message):
    __slots__ = ("success", "message_id", "channel", "timestamp")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message_id: str
    channel: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, success: _Optional[bool] = ..., message_id: _Optional[str] = ..., channel: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SendDiscordMessageRequest(_message.Message):
    __slots__ = ("integration_id", "channel", "message", "reply_to_id", "request_id")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    channel: str
    message: str
    reply_to_id: str
    request_id: str
    def __init__(self, integration_id: _Optional[str] = ..., channel: _Optional[str] = ..., message: _Optional[str] = ..., reply_to_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class SendDiscordMessageResponse(_message.Message):
    __slots__ = ("success", "message_id", "channel", "timestamp")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message_id: str
    channel: str
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, success: _Optional[bool] = ..., message_id: _Optional[str] = ..., channel: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateGithubIssueRequest(_message.Message):
    __slots__ = ("integration_id", "repository", "title", "body", "request_id")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    repository: str
    title: str
    body: str
    request_id: str
    def __init__(self, integration_id: _Optional[str] = ..., repository: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateGithubIssueResponse(_message.Message):
    __slots__ = ("number", "html_url")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    HTML_URL_FIELD_NUMBER: _ClassVar[int]
    number: int
    html_url: str
    def __init__(self, number: _Optional[int] = ..., html_url: _Optional[str] = ...) -> None: ...

class ListSlackChannelsRequest(_message.Message):
    __slots__ = ("integration_id", "page", "limit")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    page: int
    limit: int
    def __init__(self, integration_id: _Optional[str] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class SlackChannel(_message.Message):
    __slots__ = ("id", "name", "is_member", "is_private")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_MEMBER_FIELD_NUMBER: _ClassVar[int]
    IS_PRIVATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    is_member: bool
    is_private: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., is_member: _Optional[bool] = ..., is_private: _Optional[bool] = ...) -> None: ...

class ListSlackChannelsResponse(_message.Message):
    __slots__ = ("channels", "pagination")
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[SlackChannel]
    pagination: _pagination_pb2.Pagination
    def __init__(self, channels: _Optional[_Iterable[_Union[SlackChannel, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...

class ListDiscordGuildsRequest(_message.Message):
    __slots__ = ("integration_id", "page", "limit")
    INTEGRATION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    integration_id: str
    page: int
    limit: int
    def __init__(self, integration_id: _Optional[str] = ..., page: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class DiscordGuild(_message.Message):
    __slots__ = ("id", "name", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    owner: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., owner: _Optional[bool] = ...) -> None: ...

class ListDiscordGuildsResponse(_message.Message):
    __slots__ = ("guilds", "pagination")
    GUILDS_FIELD_NUMBER: _ClassVar[int]
    PAGINATION_FIELD_NUMBER: _ClassVar[int]
    guilds: _containers.RepeatedCompositeFieldContainer[DiscordGuild]
    pagination: _pagination_pb2.Pagination
    def __init__(self, guilds: _Optional[_Iterable[_Union[DiscordGuild, _Mapping]]] = ..., pagination: _Optional[_Union[_pagination_pb2.Pagination, _Mapping]] = ...) -> None: ...

"""Docker Manager domain: the engine's containers, images and samples as plain
dataclasses, the two allow-lists (container label, pull registry), how a
container reference resolves, and the audit events. No I/O, no protobuf."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from servers.platform.errors import FieldViolation, InvalidArgument, NotFound, PermissionDenied
from servers.platform.paging import PageRequest

RUNNING = "running"
STDOUT = "stdout"
STDERR = "stderr"


@dataclass(frozen=True)
class Port:
    private_port: int
    public_port: int
    protocol: str  # "tcp", "udp", "sctp"
    ip: str


@dataclass(frozen=True)
class Mount:
    type: str  # "volume", "bind", "tmpfs", ...
    source: str
    destination: str
    read_only: bool


@dataclass(frozen=True)
class Network:
    name: str
    ip_address: str
    gateway: str
    mac_address: str


@dataclass(frozen=True)
class Details:
    """What only an inspect tells."""

    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int
    restart_count: int
    health: str  # "none", "starting", "healthy", "unhealthy"
    mounts: tuple[Mount, ...]
    networks: tuple[Network, ...]
    restart_policy: str  # "no", "always", "unless-stopped", "on-failure"
    platform: str
    tty: bool  # logs are one raw stream, not stdout/stderr frames


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    image: str
    image_id: str
    command: str
    state: str  # Docker's: "created", "running", "paused", "exited", ...
    status: str
    created_at: datetime
    ports: tuple[Port, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    details: Details | None = None  # set by an inspect

    @property
    def running(self) -> bool:
        return self.state == RUNNING


@dataclass(frozen=True)
class Image:
    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    size_bytes: int
    created_at: datetime
    containers: int
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Stats:
    id: str
    name: str
    read_at: datetime | None
    cpu_percent: float
    online_cpus: int
    memory_usage_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    network_rx_bytes: int
    network_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    pids: int


@dataclass(frozen=True)
class DaemonInfo:
    name: str
    server_version: str
    api_version: str
    operating_system: str
    os_type: str
    architecture: str
    kernel_version: str
    ncpu: int
    mem_total_bytes: int
    containers: int
    containers_running: int
    containers_paused: int
    containers_stopped: int
    images: int
    storage_driver: str
    label_filter: str = ""


@dataclass(frozen=True)
class LogsQuery:
    tail: int = 100
    follow: bool = False
    timestamps: bool = False
    since: datetime | None = None
    until: datetime | None = None
    stdout: bool = True
    stderr: bool = True


@dataclass(frozen=True)
class LogLine:
    stream: str  # STDOUT or STDERR
    text: str
    timestamp: datetime | None = None


@dataclass(frozen=True)
class StreamEnd:
    """Why a logs or stats stream ended, and how many items it sent."""

    reason: str  # "all_sent", "container_stopped", "max_duration"
    count: int


@dataclass(frozen=True)
class PullProgress:
    status: str
    layer_id: str = ""
    current_bytes: int = 0
    total_bytes: int = 0


@dataclass(frozen=True)
class PullDone:
    image: Image
    status: str


@dataclass(frozen=True)
class ListQuery:
    all: bool
    page: PageRequest
    name: str = ""
    state: str = ""  # Docker's state name; "" = any
    sort: str = "createdAt"
    descending: bool = True


def build_list_query(
    *, all: bool, page: int, limit: int, name: str, state: str, sort: str, order: str
) -> ListQuery:
    return ListQuery(
        all=all or bool(state),  # a state filter implies stopped ones too
        page=PageRequest.of(page, limit),
        name=name,
        state=state,
        sort=sort or "createdAt",
        descending=order != "asc",
    )


def select(containers: Sequence[Container], query: ListQuery) -> list[Container]:
    """Filter and order (ties broken by id) the visible containers for a list."""
    chosen = [
        c
        for c in containers
        if (query.all or c.running) and (not query.state or c.state == query.state) and query.name in c.name
    ]

    def key(c: Container) -> tuple[object, str]:
        return (c.name if query.sort == "name" else c.created_at, c.id)

    return sorted(chosen, key=key, reverse=query.descending)


@dataclass(frozen=True)
class LabelFilter:
    """The allow-list: only containers carrying this label ("key" or
    "key=value") are visible through the service."""

    key: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> LabelFilter:
        key, sep, value = text.strip().partition("=")
        if not key:
            raise ValueError(f"label filter {text!r} must be 'key' or 'key=value'")
        return cls(key, value if sep else None)

    def admits(self, labels: Mapping[str, str]) -> bool:
        return self.key in labels and (self.value is None or labels[self.key] == self.value)

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


def resolve(reference: str, visible: Sequence[Container]) -> Container:
    """Docker's order among the visible containers only (so an invisible one can
    neither match nor make a prefix ambiguous): full id, then name, then a
    unique id prefix."""
    for c in visible:
        if c.id == reference:
            return c
    for c in visible:
        if c.name == reference:
            return c
    matches = [c for c in visible if c.id.startswith(reference.lower())]
    if len(matches) > 1:
        raise InvalidArgument(
            f"id prefix {reference!r} matches {len(matches)} containers",
            [FieldViolation("id", "id prefix is ambiguous; give more characters or the name")],
        )
    if not matches:
        raise NotFound(f"container {reference!r} not found")
    return matches[0]


DOCKER_HUB = "docker.io"


def registry_of(repository: str) -> str:
    """The registry host of an image repository, as Docker decides it: the first
    path component if it looks like a host, else Docker Hub."""
    first, sep, _ = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def check_registry(repository: str, allowed: frozenset[str]) -> None:
    """PERMISSION_DENIED for a registry outside the pull allow-list (empty = any)."""
    registry = registry_of(repository)
    if allowed and registry not in allowed:
        raise PermissionDenied(f"pulls from registry {registry!r} are not allowed on this server")


def image_reference(repository: str, tag: str, digest: str) -> str:
    if digest:
        return f"{repository}@{digest}"
    return f"{repository}:{tag or 'latest'}"


# Audit events (the admin trail): one per action that changed the engine.


@dataclass(frozen=True)
class ContainerStarted:
    container: Container


@dataclass(frozen=True)
class ContainerStopped:
    container: Container
    timeout_seconds: int | None


@dataclass(frozen=True)
class ContainerRestarted:
    container: Container
    timeout_seconds: int | None


@dataclass(frozen=True)
class ContainerDeleted:
    container: Container
    force: bool


@dataclass(frozen=True)
class ImagePulled:
    reference: str
    image: Image
    status: str


ContainerEvent = ContainerStarted | ContainerStopped | ContainerRestarted | ContainerDeleted | ImagePulled

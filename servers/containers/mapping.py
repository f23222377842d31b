"""Domain <-> proto conversions for the Docker Manager, in one place, and
`to_event`, the one mapping of its audit events to event protos."""

from __future__ import annotations

from typing import assert_never

from aether.common.v1 import output_pb2
from aether.containers.v1 import container_pb2, events_pb2
from aether.containers.v1 import containers_service_pb2 as pb

from servers.containers.domain import (
    STDERR,
    Container,
    ContainerDeleted,
    ContainerEvent,
    ContainerRestarted,
    ContainerStarted,
    ContainerStopped,
    DaemonInfo,
    Image,
    ImagePulled,
    LogLine,
    LogsQuery,
    PullDone,
    PullProgress,
    Stats,
    StreamEnd,
)
from servers.platform.pagination import pagination
from servers.platform.paging import Page
from servers.platform.timestamps import field_datetime, timestamp
from servers.platform.uow import OutgoingEvent

C = container_pb2


def _enum(enum: object, prefix: str, value: str) -> int:
    """Docker's name ("unless-stopped") -> the proto enum's value; an unknown
    name is UNSPECIFIED (the enums promise that for what a newer Docker adds)."""
    name = f"{prefix}_{value.upper().replace('-', '_')}"
    values = enum.DESCRIPTOR.values_by_name  # type: ignore[attr-defined]
    return values[name].number if name in values else 0


STATE_NAMES = {
    value: name.removeprefix("CONTAINER_STATE_").lower() for name, value in C.ContainerState.items()
}


def state_to_proto(state: str) -> int:
    return _enum(C.ContainerState, "CONTAINER_STATE", state)


def state_of(value: int) -> str:
    """A request's state filter as Docker's name ("" for any)."""
    return "" if value == C.CONTAINER_STATE_UNSPECIFIED else STATE_NAMES[value]


def container_to_proto(c: Container) -> container_pb2.Container:
    out = C.Container(
        id=c.id,
        name=c.name,
        image=c.image,
        image_id=c.image_id,
        command=c.command,
        state=state_to_proto(c.state),  # type: ignore[arg-type]
        status=c.status,
        created_at=timestamp(c.created_at),
        ports=[
            C.Port(
                private_port=p.private_port,
                public_port=p.public_port,
                protocol=_enum(C.PortProtocol, "PORT_PROTOCOL", p.protocol),  # type: ignore[arg-type]
                ip=p.ip,
            )
            for p in c.ports
        ],
        labels=dict(c.labels),
    )
    d = c.details
    if d is not None:
        if d.started_at:
            out.started_at.CopyFrom(timestamp(d.started_at))
        if d.finished_at:
            out.finished_at.CopyFrom(timestamp(d.finished_at))
        out.exit_code = d.exit_code
        out.restart_count = d.restart_count
        out.health = _enum(C.ContainerHealth, "CONTAINER_HEALTH", d.health)  # type: ignore[assignment]
        out.mounts.extend(
            C.Mount(
                type=_enum(C.MountType, "MOUNT_TYPE", m.type),  # type: ignore[arg-type]
                source=m.source,
                destination=m.destination,
                read_only=m.read_only,
            )
            for m in d.mounts
        )
        out.networks.extend(
            C.ContainerNetwork(
                name=n.name, ip_address=n.ip_address, gateway=n.gateway, mac_address=n.mac_address
            )
            for n in d.networks
        )
        out.restart_policy = _enum(C.RestartPolicy, "RESTART_POLICY", d.restart_policy)  # type: ignore[assignment]
        out.platform = d.platform
    return out


def containers_page(page: Page[Container]) -> pb.ListContainersResponse:
    return pb.ListContainersResponse(
        containers=[container_to_proto(c) for c in page.items], pagination=pagination(page)
    )


def image_to_proto(i: Image) -> container_pb2.Image:
    return C.Image(
        id=i.id,
        repo_tags=i.repo_tags,
        repo_digests=i.repo_digests,
        size_bytes=i.size_bytes,
        created_at=timestamp(i.created_at),
        containers=i.containers,
        labels=dict(i.labels),
    )


def images_page(page: Page[Image]) -> pb.ListImagesResponse:
    return pb.ListImagesResponse(images=[image_to_proto(i) for i in page.items], pagination=pagination(page))


def stats_to_proto(s: Stats) -> container_pb2.ContainerStats:
    out = C.ContainerStats(
        id=s.id,
        name=s.name,
        cpu_percent=s.cpu_percent,
        online_cpus=s.online_cpus,
        memory_usage_bytes=s.memory_usage_bytes,
        memory_limit_bytes=s.memory_limit_bytes,
        memory_percent=s.memory_percent,
        network_rx_bytes=s.network_rx_bytes,
        network_tx_bytes=s.network_tx_bytes,
        block_read_bytes=s.block_read_bytes,
        block_write_bytes=s.block_write_bytes,
        pids=s.pids,
    )
    if s.read_at:
        out.read_at.CopyFrom(timestamp(s.read_at))
    return out


def info_to_proto(i: DaemonInfo) -> container_pb2.DaemonInfo:
    return C.DaemonInfo(**{f: getattr(i, f) for f in C.DaemonInfo.DESCRIPTOR.fields_by_name})


def logs_query(request: pb.StreamContainerLogsRequest) -> LogsQuery:
    only = request.stream
    return LogsQuery(
        tail=request.tail if request.HasField("tail") else 100,
        follow=request.follow,
        timestamps=request.timestamps,
        since=field_datetime(request, "since"),
        until=field_datetime(request, "until"),
        stdout=only != output_pb2.OUTPUT_STREAM_STDERR,
        stderr=only != output_pb2.OUTPUT_STREAM_STDOUT,
    )


END_REASONS = {
    "all_sent": pb.LOGS_END_REASON_ALL_SENT,
    "container_stopped": pb.LOGS_END_REASON_CONTAINER_STOPPED,
    "max_duration": pb.LOGS_END_REASON_MAX_DURATION,
}


def logs_message(item: LogLine | StreamEnd) -> pb.StreamContainerLogsResponse:
    if isinstance(item, StreamEnd):
        final = pb.StreamContainerLogsFinal(reason=END_REASONS[item.reason], lines=item.count)
        return pb.StreamContainerLogsResponse(final=final)
    stream = output_pb2.OUTPUT_STREAM_STDERR if item.stream == STDERR else output_pb2.OUTPUT_STREAM_STDOUT
    line = pb.ContainerLogLine(stream=stream, text=item.text)
    if item.timestamp:
        line.timestamp.CopyFrom(timestamp(item.timestamp))
    return pb.StreamContainerLogsResponse(line=line)


STATS_END_REASONS = {
    "container_stopped": pb.STATS_END_REASON_CONTAINER_STOPPED,
    "max_duration": pb.STATS_END_REASON_MAX_DURATION,
}


def stats_message(item: Stats | StreamEnd) -> pb.StreamContainerStatsResponse:
    if isinstance(item, StreamEnd):
        final = pb.StreamContainerStatsFinal(reason=STATS_END_REASONS[item.reason], samples=item.count)
        return pb.StreamContainerStatsResponse(final=final)
    return pb.StreamContainerStatsResponse(sample=stats_to_proto(item))


def pull_message(item: PullProgress | PullDone) -> pb.PullImageResponse:
    if isinstance(item, PullDone):
        return pb.PullImageResponse(
            final=pb.PullImageFinal(image=image_to_proto(item.image), status=item.status)
        )
    return pb.PullImageResponse(
        progress=pb.PullImageProgress(
            status=item.status,
            layer_id=item.layer_id,
            current_bytes=item.current_bytes,
            total_bytes=item.total_bytes,
        )
    )


def _lifecycle(c: Container, **extra: object) -> events_pb2.ContainerLifecycleChanged:
    return events_pb2.ContainerLifecycleChanged(
        id=c.id,
        name=c.name,
        image=c.image,
        state=state_to_proto(c.state),  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


def to_event(event: ContainerEvent) -> OutgoingEvent:
    match event:
        case ContainerStarted(c):
            return OutgoingEvent("container.started", c.id, _lifecycle(c))
        case ContainerStopped(c, timeout):
            return OutgoingEvent("container.stopped", c.id, _lifecycle(c, timeout_seconds=timeout))
        case ContainerRestarted(c, timeout):
            return OutgoingEvent("container.restarted", c.id, _lifecycle(c, timeout_seconds=timeout))
        case ContainerDeleted(c, force):
            gone = events_pb2.ContainerLifecycleChanged(id=c.id, name=c.name, image=c.image, force=force)
            return OutgoingEvent("container.deleted", c.id, gone)
        case ImagePulled(reference, image, status):
            pulled = events_pb2.ImagePulled(reference=reference, image=image_to_proto(image), status=status)
            return OutgoingEvent("image.pulled", image.id, pulled)
        case _:
            assert_never(event)

"""Docker Engine API JSON (API 1.41+) -> domain objects. The only module that
knows the engine's field names; environment variables are never read out."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Any

from servers.containers.domain import (
    Container,
    DaemonInfo,
    Details,
    Image,
    Mount,
    Network,
    Port,
)

JSON = dict[str, Any]


def timestamp(value: object) -> datetime | None:
    """An engine time: RFC 3339 with nanoseconds, or a Unix second count; Docker's
    zero time ("0001-01-01T00:00:00Z") means never."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC) if value > 0 else None
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    return datetime.fromisoformat(value).astimezone(UTC)  # 3.11+ reads nanoseconds and "Z"


def _required_time(value: object) -> datetime:
    return timestamp(value) or datetime.fromtimestamp(0, UTC)


def _name(raw: str) -> str:
    return raw.lstrip("/")


def container_of_summary(raw: JSON) -> Container:
    """An entry of GET /containers/json."""
    names = raw.get("Names") or []
    return Container(
        id=raw["Id"],
        name=_name(names[0]) if names else "",
        image=raw.get("Image", ""),
        image_id=raw.get("ImageID", ""),
        command=raw.get("Command", ""),
        state=raw.get("State", ""),
        status=raw.get("Status", ""),
        created_at=_required_time(raw.get("Created")),
        ports=tuple(
            Port(
                private_port=int(p.get("PrivatePort", 0)),
                public_port=int(p.get("PublicPort", 0)),
                protocol=p.get("Type", ""),
                ip=p.get("IP", ""),
            )
            for p in raw.get("Ports") or ()
        ),
        labels=dict(raw.get("Labels") or {}),
    )


def _inspect_ports(raw: JSON) -> tuple[Port, ...]:
    ports: list[Port] = []
    for key, bindings in ((raw.get("NetworkSettings") or {}).get("Ports") or {}).items():
        number, _, protocol = key.partition("/")
        for b in bindings or [{}]:  # null: exposed only
            ports.append(Port(int(number), int(b.get("HostPort") or 0), protocol, b.get("HostIp", "")))
    return tuple(ports)


def _status(state: JSON) -> str:
    """A status line like the list's ("Up", "Exited (0)")."""
    if state.get("Running"):
        return "Up"
    if state.get("Status") == "exited":
        return f"Exited ({state.get('ExitCode', 0)})"
    return str(state.get("Status", "")).capitalize()


def container_of_inspect(raw: JSON) -> Container:
    """GET /containers/{id}/json."""
    config = raw.get("Config") or {}
    state = raw.get("State") or {}
    host = raw.get("HostConfig") or {}
    command = [raw.get("Path", ""), *(raw.get("Args") or [])]
    return Container(
        id=raw["Id"],
        name=_name(raw.get("Name", "")),
        image=config.get("Image", ""),
        image_id=raw.get("Image", ""),
        command=shlex.join(c for c in command if c),
        state=state.get("Status", ""),
        status=_status(state),
        created_at=_required_time(raw.get("Created")),
        ports=_inspect_ports(raw),
        labels=dict(config.get("Labels") or {}),
        details=Details(
            started_at=timestamp(state.get("StartedAt")),
            finished_at=timestamp(state.get("FinishedAt")),
            exit_code=int(state.get("ExitCode", 0)),
            restart_count=int(raw.get("RestartCount", 0)),
            health=((state.get("Health") or {}).get("Status")) or "none",
            mounts=tuple(
                Mount(
                    type=m.get("Type", ""),
                    source=m.get("Name") or m.get("Source", ""),
                    destination=m.get("Destination", ""),
                    read_only=not m.get("RW", True),
                )
                for m in raw.get("Mounts") or ()
            ),
            networks=tuple(
                Network(name, n.get("IPAddress", ""), n.get("Gateway", ""), n.get("MacAddress", ""))
                for name, n in ((raw.get("NetworkSettings") or {}).get("Networks") or {}).items()
            ),
            restart_policy=(host.get("RestartPolicy") or {}).get("Name") or "no",
            platform=raw.get("Platform", ""),
            tty=bool(config.get("Tty")),
        ),
    )


def image_of(raw: JSON) -> Image:
    """An entry of GET /images/json, or GET /images/{name}/json."""
    created = raw.get("Created")
    return Image(
        id=raw["Id"],
        repo_tags=tuple(t for t in raw.get("RepoTags") or () if t != "<none>:<none>"),
        repo_digests=tuple(d for d in raw.get("RepoDigests") or () if d != "<none>@<none>"),
        size_bytes=int(raw.get("Size", 0)),
        created_at=_required_time(created),
        containers=int(raw.get("Containers", -1)),
        labels=dict(raw.get("Labels") or (raw.get("Config") or {}).get("Labels") or {}),
    )


def info_of(raw: JSON, api_version: str) -> DaemonInfo:
    """GET /info."""
    return DaemonInfo(
        name=raw.get("Name", ""),
        server_version=raw.get("ServerVersion", ""),
        api_version=api_version,
        operating_system=raw.get("OperatingSystem", ""),
        os_type=raw.get("OSType", ""),
        architecture=raw.get("Architecture", ""),
        kernel_version=raw.get("KernelVersion", ""),
        ncpu=int(raw.get("NCPU", 0)),
        mem_total_bytes=int(raw.get("MemTotal", 0)),
        containers=int(raw.get("Containers", 0)),
        containers_running=int(raw.get("ContainersRunning", 0)),
        containers_paused=int(raw.get("ContainersPaused", 0)),
        containers_stopped=int(raw.get("ContainersStopped", 0)),
        images=int(raw.get("Images", 0)),
        storage_driver=raw.get("Driver", ""),
    )

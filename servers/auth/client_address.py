"""The address of the client behind a login, for per-client throttling.

Through the edge, the gRPC peer is Envoy, which appends the address it saw to
`x-forwarded-for` (use_remote_address), so the last entry is the client. That
header is believed only when the peer is a trusted proxy (AUTH_TRUSTED_PROXIES:
by default loopback and the private ranges, where Envoy runs beside the
servers); from any other peer, the peer itself is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import grpc

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"


def parse_networks(setting: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip()
    )


def _peer_ip(peer: str) -> str:
    """ "ipv4:1.2.3.4:5678" / "ipv6:[::1]:5678" -> the address ("" if not IP, e.g. unix:)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]")
    return ""


def _trusted(ip: str, proxies: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in proxies)


def client_address(context: grpc.aio.ServicerContext, proxies: Sequence[Network]) -> str:
    """The client's IP address as this server may believe it."""
    peer = _peer_ip(context.peer() or "")
    if not _trusted(peer, proxies):
        return peer or "unknown"
    forwarded = ""
    for key, value in context.invocation_metadata() or ():
        if key == "x-forwarded-for":
            forwarded = value if isinstance(value, str) else value.decode()
    last = forwarded.rpartition(",")[2].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return peer

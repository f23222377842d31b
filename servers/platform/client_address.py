"""The client's address as a server may believe it, for per-client limits (the rate limits of
public RPCs, login throttling): one rule for every server.

Through the edge, the gRPC peer is Envoy, which sets `x-aether-client-address` (overwriting any
client value) to the downstream address it trusts: the connection's peer, or the
X-Forwarded-For entry `xff_num_trusted_hops` from the right behind a load balancer of your own
(servers.edge.bootstrap). That header is believed only when the peer is a trusted proxy
(TRUSTED_PROXIES: by default loopback and the private ranges, where the edge runs beside the
servers); from any other peer, the peer itself is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import grpc

CLIENT_ADDRESS_HEADER = "x-aether-client-address"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TRUSTED_PROXIES = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"


def parse_networks(setting: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip()
    )


def peer_address(peer: str) -> str:
    """grpc's "ipv4:1.2.3.4:5678" / "ipv6:[::1]:5678" -> the address ("" if not IP, e.g. unix:)."""
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
    """The client's IP address ("unknown" for a peer that has none, e.g. a unix socket)."""
    peer = peer_address(context.peer() or "")
    if _trusted(peer, proxies):
        for key, value in context.invocation_metadata() or ():
            if key == CLIENT_ADDRESS_HEADER:
                text = value if isinstance(value, str) else value.decode()
                try:
                    return str(ipaddress.ip_address(text.strip()))
                except ValueError:
                    break
    return peer or "unknown"

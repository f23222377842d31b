"""Which addresses a server-side fetch may connect to: public unicast only.

The check runs on the addresses the connection will actually use (the
resolver in servers/rag/fetch.py returns only checked ones), so a name that
resolves to a public address for a pre-check and to 127.0.0.1 for the connect
(DNS rebinding) gets nowhere."""

from __future__ import annotations

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints that are not already link-local or private.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, ...
        "100.100.100.200",  # Alibaba
        "fd00:ec2::254",  # AWS over IPv6
    )
)


def blocked_reason(address: str) -> str | None:
    """Why `address` (an IP literal) must not be connected to, or None if it is
    public. IPv4-mapped, 6to4 and Teredo IPv6 forms are judged by the IPv4
    address inside them."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            reason = blocked_reason(str(inner))
            if reason:
                return f"{reason} (as {ip})"
    checks = (
        (ip in _METADATA, "a cloud metadata address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
    )
    return next((why for hit, why in checks if hit), None)


def ip_literal(host: str) -> str | None:
    """The host as a canonical IP literal if it is one in standard notation
    (IPv6 brackets removed), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


def legacy_ipv4(host: str) -> str | None:
    """The IPv4 address a non-standard spelling means (2130706433, 0x7f000001,
    0177.0.0.1, 127.1: forms inet_aton and so many resolvers accept), or None
    if the host is not one."""
    if ip_literal(host) is not None:
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None

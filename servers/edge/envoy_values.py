"""Small Envoy values every part of the generated config builds: durations, addresses, header
matchers, always-on runtime percentages."""

from __future__ import annotations

import warnings
from datetime import timedelta

# envoy-data-plane's generated modules trip pydantic deprecation warnings at import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.core.v3 import Address, RuntimeFractionalPercent, SocketAddress
    from envoy_data_plane.envoy.config.route.v3 import HeaderMatcher
    from envoy_data_plane.envoy.type.matcher.v3 import StringMatcher
    from envoy_data_plane.envoy.type.v3 import FractionalPercent, FractionalPercentDenominatorType


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def percent100(runtime_key: str) -> RuntimeFractionalPercent:
    """100 %, adjustable at run time under ``runtime_key``."""
    return RuntimeFractionalPercent(
        default_value=FractionalPercent(numerator=100, denominator=FractionalPercentDenominatorType.HUNDRED),
        runtime_key=runtime_key,
    )


def socket_address(host: str, port: int) -> Address:
    return Address(socket_address=SocketAddress(address=host, port_value=port))


def exact_header(name: str, value: str) -> HeaderMatcher:
    return HeaderMatcher(name=name, string_match=StringMatcher(exact=value))

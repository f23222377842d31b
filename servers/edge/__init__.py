"""Envoy edge: generates the bootstrap of the Envoy that fronts every gRPC server.

REST/JSON (`/api/v1/...`) is transcoded to gRPC and native gRPC passes through
on the same listener; routes, JWT requirements and rate limits are derived from
the proto descriptor set. See envoy/README.md.
"""

from servers.edge.descriptors import HttpBinding, Rpc, load_descriptor_set, rpcs, service_names
from servers.edge.envoy_config import (
    LOCAL_REPLY_GRPC_CODES,
    EdgeSettings,
    build_bootstrap,
    build_bootstrap_message,
    cluster_name,
    write_bootstrap,
)
from servers.edge.runner import envoy_binary, envoy_command, validate_command

__all__ = [
    "LOCAL_REPLY_GRPC_CODES",
    "EdgeSettings",
    "HttpBinding",
    "Rpc",
    "build_bootstrap",
    "build_bootstrap_message",
    "cluster_name",
    "envoy_binary",
    "envoy_command",
    "load_descriptor_set",
    "rpcs",
    "service_names",
    "validate_command",
    "write_bootstrap",
]

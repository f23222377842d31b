"""``aether dev`` in miniature for the signal tests. Usage: run_stack.py DATA_DIR LISTEN_PORT OUT_DIR.

Runs :func:`servers.embedded.serve.serve_until_signal` on a stack with embedded PostgreSQL and Redis, two
dummy services and Envoy; once up, writes OUT_DIR/ready.json with the children's pids.
"""

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from envoy_config import write_envoy_config

from servers.embedded.serve import serve_until_signal
from servers.embedded.stack import EmbeddedStack, StackInfo

DUMMY = Path(__file__).with_name("dummy_service.py")


async def main() -> int:
    data_dir, port, out = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    stack = EmbeddedStack(
        ["auth", "chat"],
        data_dir=data_dir,
        listen_port=port,
        envoy_config_factory=lambda upstreams: write_envoy_config(data_dir / "envoy.json", port),
        service_argv=lambda name: [sys.executable, str(DUMMY), name],
        env={**os.environ, "DUMMY_OUT": str(out)},
    )

    def report(info: StackInfo) -> None:
        pids = [child.pid for child in stack.children()]
        tmp = out / "ready.json.tmp"
        tmp.write_text(json.dumps({"pids": pids, "rest_url": info.rest_url}))
        tmp.rename(out / "ready.json")

    return await serve_until_signal(stack, on_started=report)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    sys.exit(asyncio.run(main()))

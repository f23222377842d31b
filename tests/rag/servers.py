"""Extra in-process RAG servers with settings of their own (URL caps, a test
allow-list, another AI gateway), trusting the shared auth service."""

from __future__ import annotations

import os
import tempfile
from typing import Any


async def start_rag_server(auth_addr: str, env: dict[str, str | None]) -> tuple[Any, str]:
    """A RAG-only server built with `env` over the test environment (None
    unsets a setting), with its own Chroma directory; returns (server,
    address). The caller stops it. The AI gateway is the shared server's
    unless AI_ADDR is given."""
    from servers import registry
    from servers.platform.runtime import Server
    from servers.platform.settings import PlatformSettings

    saved = dict(os.environ)
    os.environ.update(
        AUTH_ADDR=auth_addr,
        AI_ADDR=auth_addr,
        RAG_CHROMA_PATH=tempfile.mkdtemp(prefix="aether-test-chroma-"),
    )
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:  # settings are read from the environment while the server builds
        server = Server([registry.load("rag")], PlatformSettings())
        return server, f"127.0.0.1:{await server.start()}"
    finally:
        os.environ.clear()
        os.environ.update(saved)

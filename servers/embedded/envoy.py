"""Envoy as a supervised child of the embedded stack, on the one Envoy command line
(:func:`servers.edge.runner.envoy_command`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from servers.edge.runner import EnvoyOptions, envoy_command
from servers.embedded.child_process import ChildProcess
from servers.embedded.waiting import async_wait_for_port, wait_for_port


class EnvoyProcess(ChildProcess):
    """Envoy on ``config_path``. Ready when its listener ``listen_host:listen_port`` accepts connections."""

    def __init__(
        self,
        config_path: Path,
        *,
        listen_port: int,
        listen_host: str = "127.0.0.1",
        options: EnvoyOptions | None = None,
        log_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "envoy",
        stop_timeout: float = 10.0,
    ) -> None:
        self.config_path = config_path
        self.listen_host = listen_host
        self.listen_port = listen_port
        argv = envoy_command(config_path, options)
        super().__init__(name, argv, env=env, log_file=log_file, stop_timeout=stop_timeout)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Block until the listener accepts connections."""
        wait_for_port(self.listen_host, self.listen_port, timeout, process=self)

    async def wait_ready_async(self, timeout_s: float = 15.0) -> None:
        """Async version of :meth:`wait_ready`."""
        await async_wait_for_port(self.listen_host, self.listen_port, timeout_s, process=self)

"""The Envoy command lines `aether dev` and `aether edge --run` run pass `envoy --mode validate`:
the very argv (config and flags), built by servers.edge.runner.envoy_command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.edge.__main__ import main as edge_main
from servers.edge.runner import EnvoyOptions, envoy_command, validate_command
from servers.embedded.dev import dev_stack
from tests.edge.envoy_runner import free_port, validate
from tests.edge.fake_auth import SERVICE as AUTH


def test_the_envoy_aether_dev_runs_passes_validate(tmp_path: Path) -> None:
    port = free_port()
    stack = dev_stack(host="127.0.0.1", port=port, grpc_port=0, data_dir=tmp_path, services=["auth", "tasks"])
    assert stack.envoy_config_factory is not None
    config = stack.envoy_config_factory({"auth": "127.0.0.1:50051", "tasks": "127.0.0.1:50052"})
    argv = stack.envoy_process(config).argv
    assert argv[argv.index("--concurrency") + 1] == "1"  # the embedded stack's one worker
    result = validate(argv)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_envoy_aether_edge_runs_passes_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executed: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: executed.append(argv))
    out = tmp_path / "envoy.json"
    assert edge_main(["--upstream", f"{AUTH}=127.0.0.1:50051", "--out", str(out), "--run"]) == 0
    [argv] = executed
    assert argv == envoy_command(out)
    result = validate(argv)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_keeps_every_flag_of_the_command() -> None:
    options = EnvoyOptions(base_id=7, concurrency=2, log_level="debug", drain_seconds=0)
    command = envoy_command("/etc/envoy.json", options)
    checked = validate_command(command)
    assert checked[0] == command[0]
    assert checked[1:3] == ["--mode", "validate"]
    assert checked[3:] == command[1:]

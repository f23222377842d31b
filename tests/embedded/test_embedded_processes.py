"""ChildProcess / EnvoyProcess / port helpers, with real processes."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from servers.edge.runner import EnvoyOptions
from servers.embedded.child_process import ChildExitedError, ChildProcess, ReadinessTimeoutError
from servers.embedded.envoy import EnvoyProcess
from servers.embedded.ports import free_port, port_is_free, port_is_open
from servers.embedded.waiting import wait_for_port

from .conftest import HELPERS, alive, helper_process, wait_for_file, wait_gone, write_envoy_config

pytestmark = pytest.mark.usefixtures("no_leftover_children")

# Prints READY (built at run time, so the log header with the argv does not match) once SIGTERM is ignored.
IGNORE_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('RE' + 'ADY', flush=True); time.sleep(60)"
)


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(work_dir: Path) -> None:
    log = work_dir / "stubborn.log"
    child = ChildProcess("stubborn", [sys.executable, "-c", IGNORE_TERM], log_file=log)
    child.start()
    # wait until the handler is installed (it prints after installing it)
    deadline = time.monotonic() + 5
    while "READY" not in log.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pid = child.pid
    assert pid is not None
    started = time.monotonic()
    assert child.stop(timeout=0.5) == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - started < 3
    assert not psutil.pid_exists(pid) or not alive(psutil.Process(pid))
    assert child.stop() == -signal.SIGKILL  # idempotent
    assert child.has_exited() and not child.is_running()


def test_stop_before_start_and_clean_exit() -> None:
    child = ChildProcess("true", ["true"])
    assert child.stop() is None
    child.start()
    deadline = time.monotonic() + 5
    while not child.has_exited():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert child.returncode_or_signal() == "0"
    assert child.stop() == 0


def test_stop_also_kills_grandchildren(work_dir: Path) -> None:
    pid_file = work_dir / "grandchild.pid"
    child = ChildProcess("shell", ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"])
    child.start()
    wait_for_file(pid_file, None, timeout=5)
    grandchild = psutil.Process(int(pid_file.read_text()))
    assert alive(grandchild)
    child.stop(timeout=2)
    assert not wait_gone([grandchild], timeout=2)


def test_children_run_in_their_own_session() -> None:
    child = ChildProcess("sleep", ["sleep", "30"])
    child.start()
    try:
        assert child.pid is not None
        assert os.getsid(child.pid) == child.pid != os.getsid(0)
    finally:
        child.stop()


def test_supervisor_sigkill_leaves_no_child_behind(work_dir: Path) -> None:
    supervisor = helper_process(str(HELPERS / "supervisor.py"), "sleep", str(work_dir))
    try:
        wait_for_file(work_dir / "child.pid", supervisor)
        child = psutil.Process(int((work_dir / "child.pid").read_text()))
        assert alive(child)
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait()
        assert not wait_gone([child], timeout=3), "PR_SET_PDEATHSIG did not take the child down"
    finally:
        supervisor.kill()
        supervisor.wait()


def test_wait_for_port_fails_fast_when_the_child_exits() -> None:
    port = free_port()
    child = ChildProcess("quitter", [sys.executable, "-c", "raise SystemExit(7)"])
    child.start()
    started = time.monotonic()
    with pytest.raises(ChildExitedError, match="quitter exited with code 7"):
        wait_for_port("127.0.0.1", port, timeout=10, process=child)
    assert time.monotonic() - started < 5
    child.stop()


def test_wait_for_port_times_out_and_port_helpers() -> None:
    port = free_port()
    assert port_is_free("127.0.0.1", port) and not port_is_open("127.0.0.1", port)
    with pytest.raises(ReadinessTimeoutError):
        wait_for_port("127.0.0.1", port, timeout=0.3)


def test_port_is_free_ignores_time_wait_but_not_listeners() -> None:
    listener = socket.create_server(("127.0.0.1", 0), reuse_port=True)
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    assert not port_is_free("127.0.0.1", port)
    accepted.close()  # the server side closes first: its port goes to TIME_WAIT
    client.close()
    listener.close()
    assert port_is_free("127.0.0.1", port)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test URL
        body: bytes = response.read()
        return body.decode()


def test_two_envoys_with_own_base_ids(work_dir: Path) -> None:
    envoys = []
    try:
        for index, base_id in enumerate((free_port() % 10000 + 1000, None)):
            port = free_port()
            config = write_envoy_config(work_dir / f"envoy{index}.json", port, body=f"hello {index}")
            envoy = EnvoyProcess(
                config,
                listen_port=port,
                options=EnvoyOptions(base_id=base_id, concurrency=1),
                log_file=work_dir / f"envoy{index}.log",
            )
            envoys.append(envoy)
            envoy.start()
            envoy.wait_ready(timeout=15)
            assert _get(f"http://127.0.0.1:{port}/anything") == f"hello {index}"
        assert all(envoy.is_running() for envoy in envoys)
    finally:
        for envoy in envoys:
            envoy.stop()
    for envoy in envoys:
        assert envoy.returncode_or_signal() == "0"
        assert port_is_free("127.0.0.1", envoy.listen_port)

"""Escape attempts against the test-run sandbox, one test each, through the
shared server's RunTests (real bubblewrap, cgroups, rlimits). Each attempt is
a unittest module the sandbox runs; after each, no process, mount, cgroup or
directory of the run may remain."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest
from aether.code.v1 import code_service_pb2 as pb
from aether.code.v1 import code_service_pb2_grpc

from servers.code.main import CodeSettings
from tests.helpers import bearer

SETTINGS = CodeSettings()
WORK_ROOT = Path(SETTINGS.code_work_dir)
CGROUPS = [Path("/sys/fs/cgroup") / c / SETTINGS.code_cgroup_parent for c in ("memory", "pids")]


def sandboxed_processes() -> list[psutil.Process]:
    """Descendants of this test process that are bubblewrap or live in another pid namespace."""
    mine = os.readlink("/proc/self/ns/pid")
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name() == "bwrap" or os.readlink(f"/proc/{child.pid}/ns/pid") != mine:
                found.append(child)
        except (psutil.Error, OSError):
            continue
    return found


def leftovers() -> dict[str, Any]:
    mounts = [
        line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(WORK_ROOT) in line
    ]
    return {
        "processes": sandboxed_processes(),
        "mounts": mounts,
        "cgroups": [p.name for root in CGROUPS if root.exists() for p in root.iterdir() if p.is_dir()],
        "workspaces": list(WORK_ROOT.iterdir()) if WORK_ROOT.exists() else [],
    }


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    yield
    assert leftovers() == {"processes": [], "mounts": [], "cgroups": [], "workspaces": []}


class Runner:
    def __init__(self, stub: code_service_pb2_grpc.CodeServiceStub, token: str):
        self.stub, self.md = stub, bearer(token)

    async def run(self, body: str, seconds: int = 20, **files: str) -> tuple[pb.RunTestsFinal, str]:
        """Run `body` as the one test method of a unittest module; the final message and all output."""
        source = "import os, socket, subprocess, sys, time, unittest\n\n\nclass Escape(unittest.TestCase):\n"
        source += "    def test_escape(self):\n" + "".join(f"        {line}\n" for line in body.splitlines())
        request = pb.RunTestsRequest(
            files={"test_escape.py": source, **files}, runner="unittest", timeout_seconds=seconds
        )
        messages = [m async for m in self.stub.RunTests(request, metadata=self.md)]
        assert messages[-1].WhichOneof("event") == "final"
        return messages[-1].final, "".join(m.chunk.content for m in messages[:-1])


@pytest.fixture(scope="module")
async def channel(app_server: tuple[str, list[str]]) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(app_server[0]) as ch:
        yield ch


@pytest.fixture
async def runner(channel: grpc.aio.Channel, forge_token) -> Runner:
    user_id = str(uuid.uuid4())
    return Runner(code_service_pb2_grpc.CodeServiceStub(channel), await forge_token(user_id))


async def test_cannot_read_etc_shadow(runner: Runner) -> None:
    final, _ = await runner.run(
        "for path in ('/etc/shadow', '/etc/passwd', '/root/.bashrc'):\n"
        "    self.assertFalse(os.path.exists(path), path)\n"
        "self.assertEqual(os.getuid(), 65534)\n"
        "status = open('/proc/self/status').read()\n"
        "self.assertIn('CapEff:\\t0000000000000000', status)\n"
        "self.assertIn('NoNewPrivs:\\t1', status)"
    )
    assert final.success and final.summary.passed == 1, final.output


async def test_cannot_read_the_servers_environment_or_data(runner: Runner) -> None:
    secret = os.environ["AETHER_SECRET_KEY"]
    repo = str(Path(__file__).resolve().parents[2])
    final, output = await runner.run(
        "print(dict(os.environ), open('/proc/1/environ').read(), flush=True)\n"
        "self.assertNotIn('AETHER_SECRET_KEY', os.environ)\n"
        "self.assertNotIn('DATABASE_URL', os.environ)\n"
        f"self.assertFalse(os.path.exists({repo!r}))\n"
        f"self.assertFalse(os.path.exists({str(WORK_ROOT)!r}))"
    )
    assert final.success, final.output
    assert secret not in output and secret not in final.output
    assert "DATABASE_URL" not in final.output


async def test_cannot_reach_the_stacks_ports(runner: Runner, app_server: tuple[str, list[str]]) -> None:
    port = int(app_server[0].rsplit(":", 1)[1])
    final, _ = await runner.run(
        f"for port in ({port}, 5432, 6379, 5672):\n"
        "    with self.assertRaises(OSError):\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=1)"
    )
    assert final.success and final.summary.passed == 1, final.output


async def test_no_network_at_all(runner: Runner) -> None:
    final, _ = await runner.run(
        "with self.assertRaises(OSError):\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "with self.assertRaises(OSError):\n"
        "    socket.getaddrinfo('example.com', 443)\n"
        "self.assertEqual([n for i, n in socket.if_nameindex()], ['lo'])"
    )
    assert final.success and final.summary.passed == 1, final.output


async def test_a_fork_bomb_hits_the_process_limit(runner: Runner) -> None:
    final, _ = await runner.run(
        "children = 0\n"
        "with self.assertRaises(OSError):\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(600)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        f"self.assertLess(children, {SETTINGS.code_run_max_processes})"
    )
    assert final.success and final.summary.passed == 1, final.output


async def test_allocating_2_gb_is_killed(runner: Runner) -> None:
    final, _ = await runner.run("block = b'x' * (2 << 30)\nprint(len(block))")
    assert not final.success and final.limit_exceeded == "memory" and final.timed_out
    assert final.exit_code == -1


async def test_writing_1_gb_fails_at_the_file_size_limit(runner: Runner) -> None:
    final, _ = await runner.run(
        "chunk = b'x' * (1 << 20)\n"
        "with self.assertRaises(OSError), open('big.bin', 'wb') as out:\n"
        "    for _ in range(1024):\n"
        "        out.write(chunk)\n"
        "        out.flush()"
    )
    assert final.success and final.summary.passed == 1, final.output


async def test_cannot_write_outside_the_workspace(runner: Runner) -> None:
    token = uuid.uuid4().hex
    final, _ = await runner.run(
        f"for path in ('/{token}', '/usr/{token}', '../{token}', '/proc/{token}'):\n"
        "    with self.assertRaises(OSError):\n"
        "        open(path, 'w').write('x')\n"
        "open('/tmp/private', 'w').write('ok')  # its own /tmp"
    )
    assert final.success and final.summary.passed == 1, final.output
    assert not any(Path(p).exists() for p in (f"/{token}", f"/usr/{token}", f"/tmp/{token}"))


async def test_a_link_to_a_host_path_is_not_read_back(runner: Runner) -> None:
    """The report the server reads is replaced by links to host files: none is followed."""
    host_secret = Path("/etc/passwd").read_text().splitlines()[0]
    final, output = await runner.run(
        "os.makedirs('/report', exist_ok=True)\n"
        "for name in os.listdir('/report'):\n"
        "    os.unlink('/report/' + name)\n"
        "os.symlink('/etc/passwd', '/report/junit.xml')\n"
        "with self.assertRaises(OSError):\n"
        "    os.link('/usr/bin/env', '/report/hard.xml')\n"
        "os._exit(0)"
    )
    assert host_secret not in final.output and host_secret not in output
    assert final.summary.total == 0  # no readable report: no counts are made up


async def test_sleeping_forever_is_killed_at_the_timeout(runner: Runner) -> None:
    final, _ = await runner.run("time.sleep(10**6)", seconds=2)
    assert final.timed_out and final.limit_exceeded == "timeout" and not final.success
    assert 2000 <= final.duration_ms < 10_000


async def test_printing_100_mb_is_cut_at_the_output_cap(runner: Runner) -> None:
    final, output = await runner.run("for _ in range(100):\n    os.write(1, b'x' * (1 << 20))")
    assert final.limit_exceeded == "output" and not final.success
    assert final.output_truncated and len(final.output) <= 1 << 20
    assert len(output) <= (SETTINGS.code_run_output_kb << 10) + (1 << 20)


async def test_no_background_process_survives_the_run(runner: Runner) -> None:
    final, _ = await runner.run(
        "subprocess.Popen(['/usr/bin/sleep', '600'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(600)\n"
        "    os._exit(0)"
    )
    assert final.success and final.summary.passed == 1, final.output
    # the autouse fixture checks that neither sleeper is left

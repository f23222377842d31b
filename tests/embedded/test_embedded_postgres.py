"""EmbeddedPostgres: real server, persistence, no leftovers, orphan handling."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import asyncpg
import psutil
import pytest

from servers.embedded.locks import DataDirInUseError
from servers.embedded.postgres import SYSTEM_USER, EmbeddedPostgres, pg_bin_dir

from .conftest import HELPERS, helper_process, processes_mentioning, wait_for_file, wait_gone

pytestmark = pytest.mark.usefixtures("no_leftover_children")


@pytest.fixture
def shared_dir(shared_aether_dir: Path) -> Path:
    """The session's shared PostgreSQL data dir (see conftest)."""
    return shared_aether_dir / "postgres"


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _query(dsn: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def _server_processes(pg: EmbeddedPostgres) -> list[psutil.Process]:
    assert pg.process is not None and pg.process.pid is not None
    postmaster = psutil.Process(pg.process.pid)
    return [postmaster, *postmaster.children(recursive=True)]


async def test_start_query_stop_restart_keeps_data(work_dir: Path) -> None:
    # A fresh dir (initdb included) whose path is too long for a unix socket address.
    data_dir = work_dir / ("x" * 60) / ("y" * 40) / "pg"
    pg = EmbeddedPostgres(data_dir)
    try:
        dsn = pg.start()
        assert pg.socket_dir != pg.data_dir and len(str(pg.socket_dir / ".s.PGSQL.5432")) <= 107
        assert "host=" in dsn and dsn.startswith("postgresql://postgres@/aether?")
        assert pg.start() == dsn  # idempotent
        assert await _query(dsn, "SELECT current_database()") == "aether"
        await _execute(dsn, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')")
        procs = _server_processes(pg)
        assert len(procs) > 3  # postmaster + checkpointer, walwriter, ...
    finally:
        pg.stop()
    pg.stop()  # idempotent
    assert not wait_gone(procs, timeout=5)
    assert not processes_mentioning(data_dir)
    assert not (data_dir / "postmaster.pid").exists()

    again = EmbeddedPostgres(data_dir)
    try:
        dsn = again.start()
        assert await _query(dsn, "SELECT body FROM notes") == "kept"
    finally:
        again.stop()
    assert not processes_mentioning(data_dir)


def test_second_owner_is_refused_while_running(shared_dir: Path) -> None:
    pg = EmbeddedPostgres(shared_dir)
    pg.start()
    try:
        assert pg.socket_dir == pg.data_dir  # short path: the socket lives in the data dir
        with pytest.raises(DataDirInUseError):
            EmbeddedPostgres(shared_dir).start()
        assert pg.is_running()
    finally:
        pg.stop()


def _start_detached_like_pgserver(data_dir: Path) -> None:
    """Start postgres the way pgserver does: daemonized by pg_ctl, re-parented away from us."""
    subprocess.run(
        [str(pg_bin_dir() / "pg_ctl"), "-D", str(data_dir), "-w", "-l", str(data_dir / "orphan.log"),
         "-o", f"-c listen_addresses= -c unix_socket_directories={data_dir}", "start"],
        user=SYSTEM_USER, group=SYSTEM_USER, extra_groups=[], cwd=data_dir, check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
    )  # fmt: skip


async def test_orphan_from_a_crashed_pgserver_owner_is_stopped(shared_dir: Path) -> None:
    """pgserver's way: postgres daemonized by pg_ctl; its owner died without stopping it."""
    data_dir = shared_dir
    pg = EmbeddedPostgres(data_dir)
    try:
        await _execute(pg.start(), "CREATE TABLE t AS SELECT 42 AS answer")
    finally:
        pg.stop()
    _start_detached_like_pgserver(data_dir)
    orphan_pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    orphan = psutil.Process(orphan_pid)
    assert orphan.ppid() != psutil.Process().pid  # daemonized: not our child

    pg = EmbeddedPostgres(data_dir)
    try:
        dsn = pg.start()
        assert not wait_gone([orphan], timeout=1), "orphan should be gone before start() returns"
        assert pg.process is not None and pg.process.pid != orphan_pid
        assert await _query(dsn, "SELECT answer FROM t") == 42
    finally:
        pg.stop()
    assert not processes_mentioning(data_dir)


async def test_sigkilled_owner_takes_postgres_down_and_restart_works(
    shared_dir: Path, work_dir: Path
) -> None:
    owner = helper_process(str(HELPERS / "supervisor.py"), "postgres", str(work_dir), str(shared_dir))
    try:
        wait_for_file(work_dir / "child.pid", owner, timeout=30)
        postmaster = psutil.Process(int((work_dir / "child.pid").read_text()))
        server = [postmaster, *postmaster.children(recursive=True)]
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert not wait_gone(server, timeout=10), "postgres outlived its SIGKILLed owner"
    finally:
        owner.kill()
        owner.wait()
    pg = EmbeddedPostgres(shared_dir)  # the lock was released by the kernel; starts cleanly
    try:
        assert await _query(pg.start(), "SELECT 1") == 1
    finally:
        pg.stop()
    assert not processes_mentioning(shared_dir)

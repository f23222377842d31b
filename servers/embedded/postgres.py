"""Embedded PostgreSQL 16 from the ``pgserver`` wheel, run as a supervised child process.

We use the binaries pgserver bundles (``pgserver/pginstall/bin``) but not its ``PostgresServer``
lifecycle: pgserver starts postgres through ``pg_ctl`` (daemonized, re-parented to init) and stops it
from an ``atexit`` hook keyed on a pid list in ``PGDATA/.handle_pids.json``. A SIGKILLed owner leaves
its pid in that list, so postgres is orphaned and later pgserver cleanups never stop it. Here the
postmaster is a direct child (:class:`~servers.embedded.child_process.ChildProcess`): its own session,
SIGINT (fast shutdown) as the parent-death signal, SIGINT then SIGKILL on stop.

Orphans (e.g. from pgserver or an older run): the data directory is guarded by an ``flock``
(:class:`~servers.embedded.locks.OwnerLock`) held while we own it. If, after taking the lock, a
postgres is still running on the directory, its owner is dead: we stop it cleanly with the bundled
``pg_ctl stop -m fast`` (open transactions roll back, a checkpoint is written), kill anything left,
and start our own. We never reuse it, so the postgres we later stop is always the one we started.

As root (postgres refuses to run as root) the server runs as the ``pgserver`` system user, created
if missing with ``useradd`` (the same user pgserver uses, so its data directories stay compatible).
The data directory is chowned to it, and directories above it get ``o+x`` (traverse, not list) if
they lack it. Connections use a unix socket only (no TCP): in the data directory, or in
``$TMPDIR/aether-pg-<hash>`` when that path is too long for a socket address (107 bytes) or contains
a comma (libpq and asyncpg split ``host`` on commas).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pwd
import re
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

from servers.embedded.child_process import ChildProcess
from servers.embedded.managed import ManagedServer
from servers.embedded.orphans import processes_in_dir, terminate_processes

logger = logging.getLogger(__name__)

SYSTEM_USER = "pgserver"
SOCKET_PORT = 5432
_SOCKET_NAME = f".s.PGSQL.{SOCKET_PORT}"
_MAX_SOCKET_PATH = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def pg_bin_dir() -> Path:
    """The directory of pgserver's bundled PostgreSQL binaries (without importing pgserver)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the pgserver wheel is not installed: the embedded PostgreSQL comes with the "
            "embedded extra (pip install 'aether[embedded]'), or set DATABASE_URL"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _is_root() -> bool:
    return os.geteuid() == 0


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        logger.info("creating system user %r to run postgres (it refuses to run as root)", name)
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
            text=True,
        )
        return pwd.getpwnam(name)


def _add_mode(path: Path, bits: int) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & bits != bits:
        path.chmod(mode | bits)


def _ensure_traversable(path: Path) -> None:
    """Give "others" search permission (o+x only) on every ancestor of ``path`` that lacks it."""
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            logger.info("chmod o+x %s so the %s user can reach %s", parent, SYSTEM_USER, path)
            _add_mode(parent, stat.S_IXOTH)


def _ensure_install_readable(bin_dir: Path) -> None:
    """Make the bundled install usable by the system user (as pgserver does, minus o+r on parents)."""
    root = bin_dir.parent
    _ensure_traversable(root)
    rx = stat.S_IROTH | stat.S_IXOTH
    for dirpath, _dirnames, filenames in os.walk(root):
        directory = Path(dirpath)
        _add_mode(directory, rx)
        for filename in filenames:
            file = directory / filename
            if not file.is_symlink():
                _add_mode(file, rx if directory == bin_dir else stat.S_IROTH)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(Path(dirpath) / name, uid, gid, follow_symlinks=False)


def _read_postmaster_pid(data_dir: Path) -> list[str]:
    try:
        return (data_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return []


class EmbeddedPostgres(ManagedServer):
    """PostgreSQL on ``data_dir`` (the PGDATA directory; initdb'd on first start, kept afterwards).

    :meth:`start` returns an asyncpg/libpq DSN over the unix socket for ``database`` (created if
    missing). :meth:`stop` stops the server (fast shutdown). Both are idempotent; a failed start
    stops whatever it started.
    """

    _ready_what = "postgres to be ready"

    def __init__(
        self,
        data_dir: Path,
        *,
        database: str = "aether",
        user: str = "postgres",
        log_file: Path | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 30.0,
    ) -> None:
        if not _IDENTIFIER.match(database) or not _IDENTIFIER.match(user):
            raise ValueError("database and user must be plain identifiers")
        super().__init__(data_dir, start_timeout=start_timeout, stop_timeout=stop_timeout)
        self.database = database
        self.user = user
        self.log_file = log_file or self.data_dir.with_name(f"{self.data_dir.name}.log")
        self.bin_dir = pg_bin_dir()
        self._run_as: str | None = SYSTEM_USER if _is_root() else None
        self._socket_dir: Path | None = None

    # -- public API -------------------------------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        """Directory holding the server's unix socket (valid once started)."""
        if self._socket_dir is None:
            raise RuntimeError("postgres is not started")
        return self._socket_dir

    @property
    def dsn(self) -> str:
        """``postgresql://user@/database?host=<socket dir>&port=5432`` (valid once started)."""
        return self.dsn_for(self.database)

    def dsn_for(self, database: str) -> str:
        """A DSN for another database on this server."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{self.user}@/{database}?host={host}&port={SOCKET_PORT}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT), SIGKILL after ``stop_timeout``; releases the data-dir lock. Idempotent."""
        super().stop()

    # -- steps ------------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Lock the data dir, stop orphans, fix permissions, initdb if new, choose the socket dir."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        self._stop_orphans()
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        if self._run_as is not None:
            account = _ensure_system_user(self._run_as)
            _ensure_install_readable(self.bin_dir)
            _ensure_traversable(self.data_dir)
            if self.data_dir.stat().st_uid != account.pw_uid:
                _chown_tree(self.data_dir, account.pw_uid, account.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._socket_dir = self._choose_socket_dir()

    def _address(self) -> str:
        return self.dsn

    def _log_started(self) -> None:
        logger.info("postgres ready on %s (data %s)", self.socket_dir, self.data_dir)

    def _remove_socket_dir(self) -> None:
        if self._socket_dir is not None and self._socket_dir != self.data_dir:
            with contextlib.suppress(OSError):
                self._socket_dir.rmdir()  # our private fallback dir; postgres removed the socket

    _after_stop = _remove_socket_dir

    def _pg_command(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a bundled server-side tool (initdb, pg_ctl) as the data directory's user."""
        return subprocess.run(
            argv,
            cwd=self.data_dir,
            user=self._run_as,
            group=self._run_as,
            extra_groups=[] if self._run_as else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _initdb(self) -> None:
        if any(self.data_dir.iterdir()):
            raise RuntimeError(f"{self.data_dir} is not empty and is not a PostgreSQL data directory")
        logger.info("initializing a new PostgreSQL data directory in %s", self.data_dir)
        result = self._pg_command(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--auth=trust",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-locale",
            ],
            timeout=180,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def _stop_orphans(self) -> None:
        """Stop a postgres left running on our (now locked) data dir by a dead owner."""
        procs = processes_in_dir({"postgres"}, self.data_dir)
        if not procs:
            self._remove_stale_pid_file()
            return
        logger.warning(
            "postgres %s is still running on %s from a previous run (its owner died); stopping it",
            [p.pid for p in procs],
            self.data_dir,
        )
        if (self.data_dir / "postmaster.pid").exists():
            try:
                result = self._pg_command(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        str(max(1, int(self.stop_timeout))),
                        "stop",
                    ],
                    timeout=self.stop_timeout + 5,
                )
                if result.returncode != 0:
                    logger.warning("pg_ctl stop failed (%d): %s", result.returncode, result.stderr.strip())
            except subprocess.TimeoutExpired:
                logger.warning("pg_ctl stop timed out")
        leftovers = processes_in_dir({"postgres"}, self.data_dir)
        if leftovers:
            terminate_processes(leftovers, signal.SIGQUIT, timeout=5.0)
        self._remove_stale_pid_file()

    def _remove_stale_pid_file(self) -> None:
        # No postgres runs on the dir (checked under the lock): a leftover postmaster.pid naming a
        # recycled pid could make the new postmaster refuse to start.
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "postmaster.pid").unlink()

    def _choose_socket_dir(self) -> Path:
        # libpq and asyncpg read a comma in host as a list of hosts
        socket_path = str(self.data_dir / _SOCKET_NAME)
        if len(os.fsencode(socket_path)) <= _MAX_SOCKET_PATH and "," not in socket_path:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        socket_dir = Path(tempfile.gettempdir()) / f"aether-pg-{digest}"
        socket_dir.mkdir(mode=0o700, exist_ok=True)
        owner = pwd.getpwnam(self._run_as).pw_uid if self._run_as is not None else os.geteuid()
        info = socket_dir.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (owner, os.geteuid()):
            raise RuntimeError(f"{socket_dir} exists but is not a directory owned by us: remove it")
        if self._run_as is not None:
            os.chown(socket_dir, owner, pwd.getpwnam(self._run_as).pw_gid, follow_symlinks=False)
        socket_dir.chmod(0o700)
        logger.info(
            "data dir path unusable for a unix socket (too long or has a comma); using %s", socket_dir
        )
        return socket_dir

    def _spawn(self) -> None:
        argv = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(SOCKET_PORT),
            "-c",
            "listen_addresses=",
            "-c",
            f'unix_socket_directories="{self.socket_dir}"',  # quoted: the setting is a list
        ]
        self._process = ChildProcess(
            "postgres",
            argv,
            cwd=self.data_dir,
            log_file=self.log_file,
            user=self._run_as,
            stop_signal=signal.SIGINT,
            death_signal=signal.SIGINT,
            stop_timeout=self.stop_timeout,
        )
        self._process.start()

    def _ready(self) -> bool:
        lines = _read_postmaster_pid(self.data_dir)
        return (
            self._process is not None
            and len(lines) >= 8
            and lines[0].strip() == str(self._process.pid)
            and lines[7].strip() == "ready"
            and (self.socket_dir / _SOCKET_NAME).exists()
        )

    def _ensure_database(self) -> None:
        # psql quotes the :'db' variable itself (literal / identifier via format %I).
        sql = (
            "SELECT format('CREATE DATABASE %I', :'db') "
            "WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')\\gexec\n"
        )
        result = subprocess.run(
            [str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"db={self.database}",
             "-h", str(self.socket_dir), "-p", str(SOCKET_PORT), "-U", self.user, "-d", "postgres"],
            input=sql, capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"creating database {self.database!r} failed: {result.stderr.strip()}")

    _after_ready = _ensure_database

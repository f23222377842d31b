"""A warm bandit: a fork server started once by servers.code.warm (never imported
by the server). It imports bandit and its plugins once, then for each connection
on its Unix socket forks a fresh child that runs bandit's own command line
(`bandit --format=json --quiet -`) over the code read from the connection, so a
review pays a fork instead of an interpreter start and bandit's imports.

Each child is as isolated as a cold `prlimit … python -m bandit` run: its own
process and session (the server kills its group at the wall-clock timeout), the
analyzer's address-space, CPU-seconds and core rlimits set before it reads the
code, the fork server's cleared environment. Per connection, newline-delimited
JSON: {"pid"} from the child at once, {"rc", "stdout", "stderr"} from the child
when bandit is done, then {"exit"} (os.waitstatus_to_exitcode) from the fork
server once it reaped the child, and EOF.

    python -I bandit_server.py SOCKET MEMORY_BYTES CPU_SECONDS
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import selectors
import signal
import socket
import sys
import traceback

PR_SET_PDEATHSIG = 1


def _send(conn: socket.socket, frame: dict[str, object]) -> None:
    with contextlib.suppress(OSError):  # the server may have gone (timeout, cancelled review)
        conn.sendall(json.dumps(frame).encode() + b"\n")


def _memfd(name: str, data: bytes = b"") -> int:
    fd = os.memfd_create(name)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_back(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _child(conn: socket.socket, memory: int, cpu: int) -> None:
    """Run bandit once over the connection's code; never returns."""
    try:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _send(conn, {"pid": os.getpid()})
        code = b"".join(iter(lambda: conn.recv(1 << 20), b""))  # until the server's EOF
        out, err = _memfd("stdout"), _memfd("stderr")
        os.dup2(_memfd("stdin", code), 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.argv = ["bandit", "--format=json", "--quiet", "-"]
        from bandit.cli.main import main as bandit_main

        try:
            bandit_main()
            rc = 0
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # reported like a crashed analyzer
            traceback.print_exc()
            rc = 1
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(ValueError, OSError):  # bandit closes its output file
                stream.flush()
        _send(conn, {"rc": rc, "stdout": _read_back(out), "stderr": _read_back(err)})
    finally:
        os._exit(0)


def _reap(children: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if (conn := children.pop(pid, None)) is not None:
            _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            conn.close()


def serve(path: str, memory: int, cpu: int) -> None:
    # Die with the server that started us, whatever way it ends.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    import bandit.cli.main  # noqa: F401 - the point: import bandit and its plugins once
    from bandit.core import extension_loader  # noqa: F401

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    selector.close()
                    listener.close()
                    os.close(wake_r)
                    os.close(wake_w)
                    for other in children.values():  # other reviews' connections are theirs alone
                        other.close()
                    _child(conn, memory, cpu)
                children[pid] = conn
            else:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                _reap(children)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))

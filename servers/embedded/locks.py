"""An exclusive, crash-safe ownership lock on a data directory (``flock`` on a sibling file).

The kernel drops an ``flock`` when its owner dies, even by SIGKILL, so holding the lock means "a live
process owns this directory"; a server still running on an *unlocked* directory is an orphan of a
crashed owner and may be stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DataDirInUseError(RuntimeError):
    """Another live process owns the data directory."""


class OwnerLock:
    """Exclusive non-blocking lock on ``path`` (created 0600; never deleted, to avoid unlink races)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`DataDirInUseError` naming the owner's pid. Idempotent."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataDirInUseError(f"{self.path} is locked by a running process (pid {owner})") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

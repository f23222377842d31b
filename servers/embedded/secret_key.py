"""The development ``AETHER_SECRET_KEY``: generated once, kept in the data directory (mode 0600)."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)


def generate_secret_key() -> str:
    """32 random bytes, urlsafe base64 (the format ``servers.platform.secrets`` expects)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def load_or_create_secret_key(path: Path) -> str:
    """Return the key stored at ``path``, creating it (mode 0600, atomically, never clobbering) if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (generate_secret_key() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if someone else created it meanwhile: keep theirs
            logger.info("generated a new AETHER_SECRET_KEY in %s", path)
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("%s was readable by others (mode %o); setting 0600", path, mode)
        path.chmod(0o600)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to generate a new key (sealed data will be lost)")
    return key

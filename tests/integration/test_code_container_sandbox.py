"""What the code container needs for bubblewrap, in a real dockerd, run as the image runs (a
non-root user, every capability dropped, no-new-privileges, a read-only root): with the compose
file's `security_opt` for `code` the sandbox's namespaces start but the kernel refuses its fresh
/proc, so the server refuses test runs (FAILED_PRECONDITION, its probe); with the unmasked system
paths too (`docker run --security-opt systempaths=unconfined`, Kubernetes' `procMount:
Unmasked`) it runs. Compose cannot pass that one: the engine API refuses it
(docker/compose#9505), so the compose file must not carry it."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dockerd import BUSYBOX, DOCKER

ROOT = Path(__file__).resolve().parents[2]
BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"
IMAGE = "aether-test/bwrap:latest"
# The namespace and mount flags of servers/code/sandbox/bwrap.py that need the container's leave.
SANDBOX = [
    "bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--uid", "65534", "--gid", "65534",
    "--cap-drop", "ALL", "--new-session", "--die-with-parent", "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
    "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--remount-ro", "/",
    "--", "/usr/bin/busybox", "sh", "-c", "echo sandboxed uid=$(busybox id -u)",
]  # fmt: skip

pytestmark = pytest.mark.skipif(not Path(BWRAP).exists(), reason="bubblewrap is not installed")


def _shared_libraries(binary: str) -> list[Path]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return [Path(word) for line in out.splitlines() for word in line.split() if word.startswith("/")]


def _rootfs() -> bytes:
    """bwrap, its libraries and busybox under /usr, as in a merged-/usr Debian image."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(BWRAP, arcname="usr/bin/bwrap")
        tar.add(BUSYBOX, arcname="usr/bin/busybox")
        for library in set(_shared_libraries(BWRAP)):
            where = "usr/lib64" if library.name.startswith("ld-linux") else "usr/lib/x86_64-linux-gnu"
            tar.add(str(library.resolve()), arcname=f"{where}/{library.name}")
        for name, target in (("lib", "usr/lib"), ("lib64", "usr/lib64"), ("bin", "usr/bin")):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            tar.addfile(link)
        for name in ("tmp", "proc", "dev"):
            directory = tarfile.TarInfo(name)
            directory.type, directory.mode = tarfile.DIRTYPE, 0o1777
            tar.addfile(directory)
    return out.getvalue()


def _compose_security_options() -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    options: list[str] = compose["services"]["code"]["security_opt"]
    return options


async def _sandbox_in_container(engine: Any, options: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the sandbox in a container run as the image runs."""
    flags = [arg for option in options for arg in ("--security-opt", option)]
    proc = await asyncio.create_subprocess_exec(
        DOCKER, "-H", engine.host, "run", "--rm", "--network=none", "--user=10001:10001",
        "--cap-drop=ALL", "--security-opt=no-new-privileges", "--read-only", *flags, IMAGE, *SANDBOX,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode().strip(), err.decode()


async def test_the_sandbox_starts_in_a_container_with_composes_options(docker_engine: Any) -> None:
    await docker_engine.cli("import", "-", IMAGE, stdin=_rootfs())
    options = _compose_security_options()
    assert "systempaths=unconfined" not in options  # `docker-compose up` would fail on it

    code, _, err = await _sandbox_in_container(docker_engine, options)
    assert code != 0 and "Can't mount proc" in err, err

    code, out, err = await _sandbox_in_container(docker_engine, [*options, "systempaths=unconfined"])
    assert (code, out) == (0, "sandboxed uid=65534"), err

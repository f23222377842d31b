"""A real Docker engine for the Docker Manager's tests, isolated from the host's.

dockerd (Debian's docker.io) runs on its own socket, data root, exec root and
pidfile under one temporary directory, and touches no host network state:
no iptables/nft rules, no ip_forward, no docker0 bridge (test containers run
with network "none" and `--init`, so a stop needs no 10 s SIGTERM timeout).
The only image is busybox, imported from a rootfs of Debian's busybox-static.
A Debian `docker-registry` on 127.0.0.1 (own config and storage) serves pulls,
and dockerd tries a download once (`--max-download-attempts=1`) so failures are fast.
Everything is stopped by PID, and what dockerd leaves mounted under its exec
root (nsfs) is unmounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
DOCKER = shutil.which("docker") or "/usr/bin/docker"
REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
# A safety net for a test run that is killed before its teardown: the kernel sends
# SIGTERM to dockerd and the registry when the test process dies (util-linux setpriv).
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
IMAGE = "aether-test/busybox:latest"
MANAGED = "aether.managed=true"
# Where the test engine lives; its socket is the DOCKER_HOST of the test servers
# (tests/conftest.py), decided before any server is built.
TEST_ROOT = Path(f"/tmp/aether-dockerd-{uuid.uuid4().hex[:8]}")
APPLETS = ("sh", "echo", "sleep", "cat", "yes", "seq", "true", "head", "dd")


def missing() -> str | None:
    """Why these tests cannot run here, or None."""
    needed = (
        ("dockerd", DOCKERD),
        ("docker", DOCKER),
        ("docker-registry", REGISTRY),
        ("busybox-static", BUSYBOX),
    )
    for what, path in needed:
        if not os.access(path, os.X_OK):
            return f"{what} is not installed (.ci/run installs docker.io, docker-registry, busybox-static)"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


def _wait(ready: object, what: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not start: {log.read_text()[-2000:]}")


def _pings(sock: Path) -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(str(sock))
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        return b" 200 " in s.recv(64).split(b"\r\n", 1)[0]
    return False


def _listens(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host_network_state() -> tuple[str, str]:
    """What dockerd would change on the host unless told not to: ip_forward and nft tables."""
    forward = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    nft = shutil.which("nft")
    tables = subprocess.run([nft, "list", "tables"], capture_output=True, text=True).stdout if nft else ""
    return forward, tables


def _rootfs_tar(extra: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _mounts_under(root: Path) -> list[str]:
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return sorted((p for p in points if p == str(root) or p.startswith(f"{root}/")), reverse=True)


@dataclass
class LocalDocker:
    """One running dockerd (and registry) under `root`."""

    root: Path
    registry_port: int = 0
    _dockerd: subprocess.Popen[bytes] | None = None
    _registry: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    def docker(self, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
        """The docker CLI against this engine (arguments as a list, never a shell string)."""
        done = subprocess.run(
            [DOCKER, "-H", self.host, *args], input=stdin, capture_output=True, timeout=120, check=False
        )
        if check and done.returncode:
            raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.decode()}")
        return done.stdout.decode().strip()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "dockerd.log"
        self._dockerd = subprocess.Popen(
            [
                *DIE_WITH_PARENT,
                DOCKERD,
                f"--host={self.host}",
                f"--data-root={self.root / 'data'}",
                f"--exec-root={self.root / 'exec'}",
                f"--pidfile={self.root / 'dockerd.pid'}",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--bridge=none",
                "--max-download-attempts=1",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait(lambda: _pings(self.socket), "dockerd", self._dockerd, log)
        self.docker("import", "-", IMAGE, stdin=_rootfs_tar({}))

    def start_registry(self) -> None:
        self.registry_port = _free_port()
        storage = self.root / "registry"
        config = self.root / "registry.yml"
        config.write_text(
            "version: 0.1\nlog: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '127.0.0.1:{self.registry_port}'}}\n"
        )
        log = self.root / "registry.log"
        self._registry = subprocess.Popen(
            [*DIE_WITH_PARENT, REGISTRY, "serve", str(config)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait(lambda: _listens(self.registry_port), "docker-registry", self._registry, log)

    async def cli(self, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
        """The docker CLI off the event loop (the in-process servers must keep
        answering Envoy's health checks while a test drives the engine)."""
        proc = await asyncio.create_subprocess_exec(
            DOCKER,
            "-H",
            self.host,
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin), 120)
        if check and proc.returncode:
            raise RuntimeError(f"docker {' '.join(args)}: {err.decode()}")
        return out.decode().strip()

    async def push(self, repository: str, tag: str, extra: dict[str, bytes] | None = None) -> str:
        """Import a busybox image (with `extra` files, so its layer is its own)
        and push it to the registry as repository:tag; the local copy is removed."""
        reference = f"{self.registry}/{repository}:{tag}"
        await self.cli("import", "-", reference, stdin=_rootfs_tar(extra or {}))
        await self.cli("push", reference)
        await self.cli("rmi", reference)
        return reference

    def drop_layers(self, repository: str) -> None:
        """Delete the registry's layer blobs of `repository`, keeping its manifests:
        a pull then fails mid-stream, after the engine answered 200."""
        layers = self.root / "registry/docker/registry/v2/repositories" / repository / "_layers/sha256"
        blobs = self.root / "registry/docker/registry/v2/blobs/sha256"
        for layer in layers.iterdir():
            shutil.rmtree(blobs / layer.name[:2] / layer.name)

    async def run(self, *command: str, name: str | None = None, labels: tuple[str, ...] = (MANAGED,)) -> str:
        """A running busybox container; returns its full id."""
        args = ["run", "-d", "--init", "--network=none", f"--name={name or 'aether-' + uuid.uuid4().hex[:8]}"]
        args += [f"--label={label}" for label in labels]
        return await self.cli(*args, IMAGE, *(command or ("sleep", "600")))

    def containers(self) -> list[str]:
        return self.docker("ps", "-aq", "--no-trunc").split()

    def images(self) -> list[str]:
        return sorted(self.docker("images", "--format", "{{.Repository}}:{{.Tag}}").split())

    def stop(self) -> None:
        """Remove every container, stop the registry and dockerd (and its
        containerd) by PID, unmount what is left under the root, delete it."""
        if self._dockerd is not None and self._dockerd.poll() is None:
            ids = self.containers()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
        containerd_pid = self.root / "exec/containerd/containerd.pid"
        pid = int(containerd_pid.read_text()) if containerd_pid.exists() else None
        for proc in (self._registry, self._dockerd):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # normally gone with dockerd already
        for point in _mounts_under(self.root):
            subprocess.run(["umount", "--lazy", point], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def leftovers(self) -> list[str]:
        """What stop() could not clean up (empty after a clean stop)."""
        processes = (("dockerd", self._dockerd), ("docker-registry", self._registry))
        alive = [name for name, p in processes if p is not None and p.poll() is None]
        return alive + _mounts_under(self.root) + ([str(self.root)] if self.root.exists() else [])


@contextlib.contextmanager
def local_docker(root: Path) -> Iterator[LocalDocker]:
    engine = LocalDocker(root)
    try:
        engine.start()
        engine.start_registry()
        yield engine
    finally:
        engine.stop()

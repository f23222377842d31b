"""The test engine itself (tests/dockerd.py): it changes no host network state, and
stopping it leaves nothing behind (no process, no mount, no directory), even with
a container still running."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.dockerd import LocalDocker, host_network_state, missing


@pytest.mark.skipif(missing() is not None, reason=str(missing()))
async def test_a_local_dockerd_changes_nothing_on_the_host_and_leaves_nothing() -> None:
    before = host_network_state()
    # a short root: containerd's sockets under it must fit a unix socket path (108 bytes)
    engine = LocalDocker(Path(tempfile.mkdtemp(prefix="aether-dk-")))
    try:
        engine.start()
        cid = await engine.run("sleep", "600")
        assert engine.containers() == [cid]
        assert host_network_state() == before  # no ip_forward, no nft tables, no bridge
    finally:
        engine.stop()
    assert engine.leftovers == []
    assert host_network_state() == before

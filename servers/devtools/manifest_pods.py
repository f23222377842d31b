"""What two domains' pods need beyond the hardened default (servers/devtools/manifests.py), each
granted as narrowly as Kubernetes allows; docs/kubernetes.md spells out the trade-offs.

- code: test runs are sandboxed by bubblewrap in new user, pid and mount namespaces. The pod
  gets its own user namespace (`hostUsers: false`: uid 10001 inside is an unprivileged uid on
  the node), an unmasked /proc (so bwrap can mount a fresh procfs for the run's pid namespace;
  Kubernetes allows it only in a user-namespaced pod) and no seccomp/AppArmor profile (the
  runtimes' defaults refuse to create namespaces without CAP_SYS_ADMIN and forbid mounts). It
  still runs as non-root with no capability, no privilege escalation and a read-only root.
- containers: the Docker Manager needs an engine. A dockerd sidecar (a native sidecar: an init
  container that keeps running) owns the pod's own engine, its images and containers on an
  emptyDir, and serves it on a unix socket in a volume shared with the server only (no TCP).
  dockerd needs `privileged`; the server beside it stays unprivileged.
"""

from __future__ import annotations

from typing import Any

UID = 10001  # the Dockerfile's `aether` user
DIND_IMAGE = "docker:28-dind"
DOCKER_SOCKET_DIR = "/run/docker"
DOCKER_HOST = f"unix://{DOCKER_SOCKET_DIR}/docker.sock"


def adapt(domain: str, deployment: dict[str, Any]) -> None:
    """Give `domain`'s Deployment what its server needs beyond the default pod."""
    spec = deployment["spec"]["template"]["spec"]
    if domain == "code":
        _sandbox(spec)
    elif domain == "containers":
        _docker_sidecar(spec)


def _sandbox(spec: dict[str, Any]) -> None:
    spec["hostUsers"] = False
    spec["containers"][0]["securityContext"].update(
        seccompProfile={"type": "Unconfined"},
        appArmorProfile={"type": "Unconfined"},
        procMount="Unmasked",
    )


def _docker_sidecar(spec: dict[str, Any]) -> None:
    socket_mount = {"name": "docker-socket", "mountPath": DOCKER_SOCKET_DIR}
    docker = [f"--host={DOCKER_HOST}"]
    spec["initContainers"] = [
        {
            "name": "dockerd",
            "image": DIND_IMAGE,
            "restartPolicy": "Always",  # a native sidecar: up before the server, down after it
            # Only the unix socket (no TCP listener); its group is the server's.
            "args": ["dockerd", *docker, f"--group={UID}"],
            "env": [{"name": "DOCKER_TLS_CERTDIR", "value": ""}],
            "securityContext": {"privileged": True},
            "startupProbe": {
                "exec": {"command": ["docker", *docker, "version"]},
                "periodSeconds": 2,
                "failureThreshold": 60,
            },
            "volumeMounts": [socket_mount, {"name": "docker-data", "mountPath": "/var/lib/docker"}],
            # The managed containers run inside this container: these limits are theirs too.
            "resources": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"cpu": "2", "memory": "2Gi"},
            },
        }
    ]
    spec["volumes"] += [{"name": "docker-socket", "emptyDir": {}}, {"name": "docker-data", "emptyDir": {}}]
    server = spec["containers"][0]
    server["securityContext"]["runAsGroup"] = UID
    server["volumeMounts"].append(dict(socket_mount))
    server["env"].append({"name": "DOCKER_HOST", "value": DOCKER_HOST})

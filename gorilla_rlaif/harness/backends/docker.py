"""The docker backend: one container per snippet, or one warm container per worker.

Talks to the engine through the `docker` SDK (Docker Engine, or Podman's Docker-compatible socket;
DOCKER_HOST is respected). Every container: no network (unless allowed), read-only root file
system, tmpfs /work and /tmp, user 65534, all capabilities dropped, no-new-privileges, a memory
cgroup limit without swap and a PID limit. The runner inside applies the same rlimits as on the
local backend, so a limit means the same on both.

Warm mode (`container_reuse`, the default) keeps one container per worker (PID 1: the runner in `--reaper` mode) and
`docker exec`s the runner per snippet: after each snippet the runner kills every process of the
sandbox user and wipes /work, /tmp and /dev/shm, so the next snippet sees none of it. A warm
container that stops answering is removed and replaced.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from urllib.parse import urlparse

from gorilla_rlaif.harness.backends.base import (
    GRACE_S,
    PLACEHOLDER_ROOT,
    PRELOAD_ALLOWANCE_MB,
    RUNNER_PATH,
    WORKDIR,
    Backend,
    Channel,
    SandboxUnavailable,
    ServerWorker,
    Worker,
    WorkerBroken,
    harness_timeout,
)
from gorilla_rlaif.harness.backends.local import parse_report
from gorilla_rlaif.harness.in_sandbox import encode_request

log = logging.getLogger(__name__)

SANDBOX_USER = "65534:65534"
LABEL = "org.gorilla-rlaif.harness"
OWNER_LABEL = "org.gorilla-rlaif.owner"  # host:pid of the harness process that started the container
# The cgroup holds the reaper and the runner (~25 MB) on top of the snippet's own memory.
CGROUP_OVERHEAD_MB = 64
SCRATCH_DIRS = [WORKDIR, "/tmp", "/dev/shm"]


class DockerBackend(Backend):
    name = "docker"

    def __init__(self, config):
        super().__init__(config)
        self._client = None

    def client(self, timeout: float = 60):
        import docker

        if self.config.docker_host:
            return docker.DockerClient(base_url=self.config.docker_host, timeout=int(timeout))
        return docker.from_env(timeout=int(timeout))

    def check(self) -> None:
        import docker

        host = self.config.docker_host or os.environ.get("DOCKER_HOST", "")
        if not engine_is_local(host):
            raise SandboxUnavailable(
                f"DOCKER_HOST={host} is an engine on another machine, but the docker backend bind-mounts "
                "the runner, the Python libraries and the model cache from this one. Use an engine on "
                "this machine (a unix socket, or tcp://localhost) or --backend local."
            )
        try:
            self._client = self.client()
            self._client.ping()
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(
                f"cannot reach a Docker engine ({exc}). Start one (scripts/setup-sandbox.sh starts "
                "dockerd), point DOCKER_HOST at a Docker/Podman socket, or use --backend local."
            ) from None
        try:
            self._client.images.get(self.config.image)
        except docker.errors.ImageNotFound:
            raise SandboxUnavailable(
                f"sandbox image {self.config.image} not found: build it with scripts/setup-sandbox.sh "
                "(offline, from debootstrap) or see gorilla_rlaif/harness/Dockerfile for both ways"
            ) from None

    def container_kwargs(self) -> dict:
        config = self.config
        memory = f"{config.memory_mb + CGROUP_OVERHEAD_MB}m"
        # docker-py's `volumes` dict is keyed by host path: one host dir mounted twice needs `mounts`
        volumes = [f"{m.host}:{m.target}:{'rw' if m.writable else 'ro'}" for m in self.mounts()]
        scratch = f"size={max(2 * config.max_file_mb, 64)}m,mode=1777"
        tmpfs = {WORKDIR: scratch, "/tmp": scratch}
        if self.world is not None:
            tmpfs[PLACEHOLDER_ROOT] = scratch
        return {
            "image": config.image,
            "user": SANDBOX_USER,
            "network_mode": "bridge" if config.network else "none",
            "mem_limit": memory,
            "memswap_limit": memory,
            "pids_limit": config.max_procs + 8,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "read_only": True,
            "tmpfs": tmpfs,
            "volumes": volumes,
            "working_dir": WORKDIR,
            "environment": {},
            "labels": {LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}"},
            "detach": True,
        }

    def make_request(self, code: str, **kwargs) -> dict:
        # No RLIMIT_NPROC here: it counts every process of uid 65534 in every container on the
        # host, so one snippet's fork bomb would starve its neighbours. The container's PID cgroup
        # (`pids_limit`) enforces the same limit per snippet.
        return {**super().make_request(code, **kwargs), "max_procs": None}

    def open_worker(self, index: int) -> Worker:
        if self.config.container_reuse and self.config.preload:
            return DockerServerWorker(self, index)
        if self.config.container_reuse:
            return WarmWorker(self, index)
        return FreshWorker(self)


def engine_is_local(host: str) -> bool:
    """Whether DOCKER_HOST names an engine on this machine (bind mounts only work there)."""
    if not host or host.startswith(("unix://", "npipe://", "fd://")):
        return True
    parsed = urlparse(host if "://" in host else f"tcp://{host}")
    if parsed.scheme == "ssh":
        return False
    return parsed.hostname in ("localhost", "127.0.0.1", "::1")


def _runner_cmd(request: dict) -> list[str]:
    return ["python3", "-I", "-S", RUNNER_PATH, "--kill-all", *encode_request(request)]


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception as exc:  # already gone, engine busy: nothing to keep
        log.debug("could not remove container %s: %s", getattr(container, "id", "?"), exc)


class FreshWorker(Worker):
    """A new container per snippet: simplest isolation, ~0.3 s more per snippet."""

    def __init__(self, backend: DockerBackend):
        self.backend = backend
        self.client = backend.client(timeout=backend.config.timeout_s + GRACE_S)

    def execute(self, request: dict) -> dict:
        import requests

        kwargs = self.backend.container_kwargs()
        container = self.client.containers.run(command=_runner_cmd(request), **kwargs)
        try:
            try:
                status = container.wait(timeout=self.backend.config.timeout_s + GRACE_S)
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                return harness_timeout(self.backend.config)
            out = container.logs(stdout=True, stderr=False)
            err = container.logs(stdout=False, stderr=True)
            raw = parse_report(out, err, status.get("StatusCode", -1))
            container.reload()
            if container.attrs["State"].get("OOMKilled") and "returncode" not in raw:
                raw = {"child": {}, "returncode": -9, "oom_killed": True}
            return raw
        finally:
            _remove(container)


class WarmWorker(Worker):
    """One long-lived container; the runner is `exec`ed into it per snippet."""

    def __init__(self, backend: DockerBackend, index: int):
        self.backend = backend
        self.client = backend.client(timeout=backend.config.timeout_s + GRACE_S)
        kwargs = backend.container_kwargs()
        kwargs["tmpfs"] = {**kwargs["tmpfs"]}
        self.container = self.client.containers.run(
            command=["python3", "-I", "-S", RUNNER_PATH, "--reaper"],
            name=f"gorilla-sandbox-{index}-{uuid.uuid4().hex[:8]}",
            **kwargs,
        )

    def execute(self, request: dict) -> dict:
        import docker
        import requests

        roots = [r.rstrip("/") for r in self.backend.world_request().get("scratch_roots", [])]
        request = {**request, "clean_dirs": SCRATCH_DIRS + roots}
        api = self.client.api
        try:
            exec_id = api.exec_create(
                self.container.id, _runner_cmd(request), user=SANDBOX_USER, workdir=WORKDIR, environment={}
            )["Id"]
            out, err = api.exec_start(exec_id, demux=True)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            self.close()  # the runner is stuck: this container can't be trusted any more
            raw = harness_timeout(self.backend.config)
            raise WorkerBroken("warm container timed out", raw) from None
        except docker.errors.APIError as exc:
            raise WorkerBroken(f"warm container unusable: {exc}") from exc
        rc = api.exec_inspect(exec_id).get("ExitCode")
        return parse_report(out or b"", err or b"", rc if rc is not None else -1)

    def close(self) -> None:
        _remove(self.container)


class ExecChannel(Channel):
    """stdin/stdout of a long-lived `docker exec` over the engine's hijacked HTTP socket. Without
    a TTY the engine multiplexes stdout and stderr in frames: 1 byte stream id, 3 zero bytes, a
    4-byte big-endian length, then the payload (Docker Engine API, "Attach to a container")."""

    def __init__(self, client, container, cmd: list[str]):
        api = client.api
        self.exec_id = api.exec_create(
            container.id, cmd, stdin=True, user=SANDBOX_USER, workdir=WORKDIR, environment={}
        )["Id"]
        self.sock = api.exec_start(self.exec_id, socket=True)
        self.raw = getattr(self.sock, "_sock", self.sock)
        self.out, self.err, self.pending = b"", bytearray(), b""

    def send(self, data: bytes) -> None:
        self.raw.settimeout(30)
        self.raw.sendall(data)

    def _fill(self, deadline: float) -> bool:
        import time

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no answer from the fork server")
        self.raw.settimeout(remaining)
        try:
            chunk = self.raw.recv(1 << 16)
        except (TimeoutError, OSError) as exc:
            if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                raise TimeoutError("no answer from the fork server") from None
            raise
        if not chunk:
            return False
        self.pending += chunk
        while len(self.pending) >= 8:
            size = int.from_bytes(self.pending[4:8], "big")
            if len(self.pending) < 8 + size:
                break
            stream, payload = self.pending[0], self.pending[8 : 8 + size]
            self.pending = self.pending[8 + size :]
            if stream == 2:
                self.err = (self.err + payload)[-4000:]
            else:
                self.out += payload
        return True

    def read_line(self, timeout: float) -> bytes | None:
        import time

        deadline = time.monotonic() + timeout
        while b"\n" not in self.out:
            if not self._fill(deadline):
                return None
        line, _, self.out = self.out.partition(b"\n")
        return line

    def stderr_tail(self) -> str:
        return bytes(self.err).decode("utf-8", "replace")

    def kill(self) -> None:
        for closer in (self.raw.close, self.sock.close):
            try:
                closer()
            except Exception as exc:
                log.debug("closing exec socket: %s", exc)


class DockerServerWorker(ServerWorker):
    """A warm container (PID 1: the reaper) with the runner's fork server `exec`ed into it once;
    snippets are forks of that server. A server that dies or hangs takes its container along."""

    def __init__(self, backend: DockerBackend, index: int):
        super().__init__(backend)
        self.index = index
        self.client = backend.client(timeout=backend.config.timeout_s + GRACE_S)
        self.container = None

    def open_channel(self) -> Channel:
        kwargs = self.backend.container_kwargs()
        memory = f"{self.backend.config.memory_mb + CGROUP_OVERHEAD_MB + PRELOAD_ALLOWANCE_MB}m"
        kwargs.update(mem_limit=memory, memswap_limit=memory)
        self.container = self.client.containers.run(
            command=["python3", "-I", "-S", RUNNER_PATH, "--reaper"],
            name=f"gorilla-sandbox-{self.index}-{uuid.uuid4().hex[:8]}",
            **kwargs,
        )
        return ExecChannel(
            self.client, self.container, ["python3", "-I", "-S", RUNNER_PATH, "--kill-all", "--serve"]
        )

    def fit_memory(self, resident_mb: int) -> None:
        memory = f"{resident_mb + self.backend.config.memory_mb + CGROUP_OVERHEAD_MB}m"
        self.container.update(mem_limit=memory, memswap_limit=memory)

    def close(self) -> None:
        super().close()
        if self.container is not None:
            _remove(self.container)
            self.container = None

"""A memory cgroup for the local backend, so `--memory-mb` caps a snippet and all its processes.

Why: an address-space rlimit is per process, so a snippet that forks could use `max_procs` times
the limit. Docker puts each container in a memory cgroup; bubblewrap creates none, so when the
harness runs as root and a memory controller is writable (cgroup v2 with `memory` enabled, or
v1's `memory` hierarchy) it makes one per sandbox itself. Writing a handful of files is simpler
and has fewer moving parts than `systemd-run --scope` (no systemd here, and not in containers).

The sandbox's first process joins the cgroup before it execs bubblewrap (`wrap`), so there is no
window in which a child is forked outside it. The cgroup is removed when the sandbox is closed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid
from pathlib import Path

from gorilla_rlaif.harness.in_sandbox import oom_kill_count

log = logging.getLogger(__name__)

ROOT_V2 = Path("/sys/fs/cgroup")
ROOT_V1 = Path("/sys/fs/cgroup/memory")
PREFIX = "gorilla-rlaif-sandbox-"
# What the sandbox's own processes (bubblewrap, the runner) need on top of the snippet's limit:
# the same allowance the docker backend gives its containers. (A preloaded server's imports are
# added when it is ready: `ServerWorker.fit_memory`.)
OVERHEAD_MB = 64


def _v2_root() -> Path | None:
    controllers = ROOT_V2 / "cgroup.subtree_control"
    try:
        if "memory" in controllers.read_text().split() and os.access(ROOT_V2, os.W_OK):
            return ROOT_V2
    except OSError:
        pass
    return None


def _v1_root() -> Path | None:
    if (ROOT_V1 / "memory.limit_in_bytes").exists() and os.access(ROOT_V1, os.W_OK):
        return ROOT_V1
    return None


def available() -> bool:
    """Whether this process can create memory cgroups (root with a writable controller)."""
    return os.geteuid() == 0 and (_v2_root() is not None or _v1_root() is not None)


class MemoryCgroup:
    """One sandbox's memory cgroup: `limit_mb + OVERHEAD_MB`, no swap."""

    def __init__(self, path: Path, version: int):
        self.path = path
        self.version = version

    @classmethod
    def create(cls, limit_mb: int) -> MemoryCgroup | None:
        """A new cgroup, or None when this machine cannot make one (the caller keeps rlimits)."""
        if os.geteuid() != 0:
            return None
        root, version = _v2_root(), 2
        if root is None:
            root, version = _v1_root(), 1
        if root is None:
            return None
        path = root / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"  # named by the owning process
        cgroup = cls(path, version)
        try:
            path.mkdir()
            if version == 2:
                with contextlib.suppress(OSError):
                    (path / "memory.swap.max").write_text("0")
            cgroup.set_limit(limit_mb)
        except OSError as exc:
            log.warning("could not create a memory cgroup at %s (%s): per-process rlimits only", path, exc)
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cgroup

    def set_limit(self, limit_mb: int) -> None:
        """`limit_mb + OVERHEAD_MB`, without swap. A preloaded worker is created with room for
        its imports, then narrowed to what it holds plus the snippet's limit (`ServerWorker`)."""
        limit = str((limit_mb + OVERHEAD_MB) * 1024 * 1024)
        if self.version == 2:
            (self.path / "memory.max").write_text(limit)
        else:
            # v1 refuses a memory limit above memory+swap: order the two writes accordingly
            files = [self.path / "memory.limit_in_bytes", self.path / "memory.memsw.limit_in_bytes"]
            current = int((self.path / "memory.limit_in_bytes").read_text())
            for file in files if int(limit) < current else reversed(files):
                with contextlib.suppress(
                    FileNotFoundError, PermissionError
                ):  # memsw: absent without swap accounting
                    file.write_text(limit)

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` run by a shell that first moves itself into the cgroup, then execs it."""
        procs = self.path / "cgroup.procs"
        return ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sandbox", *argv]

    def oom_kills(self) -> int | None:
        """How many processes the kernel's OOM killer has killed in this cgroup."""
        return oom_kill_count([self.path / ("memory.events" if self.version == 2 else "memory.oom_control")])

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def remove(self) -> None:
        """Kill whatever is still inside, then remove the cgroup."""
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # the kernel still tears the last process down
                time.sleep(0.02)
        log.warning("memory cgroup %s could not be removed", self.path)

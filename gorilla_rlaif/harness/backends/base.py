"""The backend interface: a backend checks it can run, then opens workers; a worker executes one
request at a time and returns the runner's raw report.

A worker is the unit that can be long-lived (a warm container today; a process that keeps
torch/transformers imported and forks per snippet later), so the scheduler in `run.py` keeps one
per thread and replaces it when it raises `WorkerBroken`.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod

from gorilla_rlaif.errors import GorillaRlaifError
from gorilla_rlaif.harness.config import SandboxConfig, sandbox_env

# Paths inside every sandbox (container or bubblewrap), so a request means the same everywhere.
WORKDIR = "/work"
RUNNER_PATH = "/opt/gorilla-rlaif/runner.py"
SITE_DIR = "/opt/gorilla-rlaif/site"
CACHE_DIR = "/cache"
# Time the sandbox may take beyond the snippet's own limit (start-up, report) before the harness
# gives up on it: the second layer of the timeout, behind the runner's own kill.
GRACE_S = 20.0


class SandboxUnavailable(GorillaRlaifError):
    """The chosen backend cannot run here (no engine, no image); the message says how to fix it."""


class WorkerBroken(RuntimeError):
    """A worker can no longer be used (its container died, ...): open a new one."""


class Worker(ABC):
    @abstractmethod
    def execute(self, request: dict) -> dict:
        """Run one request (see `make_request`) and return the runner's raw report."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the worker holds (containers, processes)."""


class Backend(ABC):
    name: str = ""

    def __init__(self, config: SandboxConfig):
        self.config = config

    @abstractmethod
    def check(self) -> None:
        """Raise `SandboxUnavailable` with a fix if this backend cannot run."""

    @abstractmethod
    def open_worker(self, index: int) -> Worker:
        """A worker for one thread of the scheduler."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def make_request(self, code: str, *, clean_dirs: list[str] | None = None) -> dict:
        """The runner's request for one snippet (limits, environment, paths)."""
        config = self.config
        return {
            "code": code,
            "workdir": WORKDIR,
            "timeout_s": config.timeout_s,
            "memory_mb": config.memory_mb,
            "max_procs": config.max_procs,
            "max_file_mb": config.max_file_mb,
            "max_output_kb": config.max_output_kb,
            "env": sandbox_env(config, uuid.uuid4().hex),
            "site_dirs": [f"{SITE_DIR}/{i}" for i in range(len(config.site_packages))]
            if config.mount_site_packages
            else [],
            "clean_dirs": clean_dirs or [],
        }

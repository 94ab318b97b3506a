"""The backend interface, batch-first: a backend checks it can run, then runs a batch of snippets
and yields one result per snippet as they finish (`BatchBackend`). That is all `run_snippets`
asks of a backend, so a remote service (`remote.py`) or a Ray cluster (`raycluster.py`) is one
more entry in the table.

The sandboxes of this machine (`Backend`: local, docker) run a batch on workers: a backend opens
workers; a worker executes one request at a time and returns the runner's raw report. A worker
is the unit that can be long-lived (a warm container, a fork server that keeps torch/transformers
imported), so the scheduler in `run.py` (`WorkerPool`) keeps one per thread and replaces it when
it raises `WorkerBroken`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from gorilla_rlaif.errors import GorillaRlaifError
from gorilla_rlaif.harness.classify import classify
from gorilla_rlaif.harness.config import DEFAULT_PRELOAD, RUNNER, SandboxConfig, sandbox_env
from gorilla_rlaif.harness.schema import ExecResult, Snippet, Status
from gorilla_rlaif.harness.world import WORLD_HOST_DIR, resolve_world

log = logging.getLogger(__name__)

# Paths inside every sandbox (container or bubblewrap), so a request means the same everywhere.
WORKDIR = "/work"
RUNNER_PATH = "/opt/gorilla-rlaif/in_sandbox.py"
SITE_DIR = "/opt/gorilla-rlaif/site"
CACHE_DIR = "/cache"
WORLD_DIR = "/opt/gorilla-rlaif/world"
# Absolute placeholder paths answers read ('/path/to/audio.wav'): a scratch directory in sandboxes
# that have a root file system of their own (bubblewrap, docker), wiped like /work.
PLACEHOLDER_ROOT = "/path"
TORCH_SCRATCH = "/tmp/.torch"
# Address space granted on top of `memory_mb` (RLIMIT_AS): torch's CUDA build and TensorFlow reserve
# gigabytes of virtual memory they never touch, so a tight address-space limit fails their import.
# What a snippet really uses is capped by the sandbox's memory cgroup (docker: the container's;
# local: one per sandbox, when running as root); without a cgroup the rlimit is all there is.
ADDRESS_SPACE_RESERVE_MB = 8192
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


def share_download_cache(cache: Path) -> None:
    """Make `cache` a download cache every sandbox can write (`--network` mode).

    Sandboxes run under uids of their own (docker: nobody; local: a fresh uid per run), so a
    model one of them downloads must land in directories the next one can also write: the
    cache's directories are made world-writable (like /tmp, with the sticky bit so no sandbox can
    delete another's files) and the snippets run with umask 0. Only use a cache dedicated to
    sandboxes for this, never your own ~/.cache/huggingface.
    """
    for sub in ("", "huggingface", "huggingface/hub", "torch", "torch/hub"):
        (cache / sub).mkdir(parents=True, exist_ok=True)
    for root, dirs, _ in os.walk(cache):
        for path in [root, *(os.path.join(root, d) for d in dirs)]:
            try:
                os.chmod(path, 0o1777)
            except PermissionError as exc:  # not ours: say which, rather than fail in the sandbox
                raise SandboxUnavailable(
                    f"--network needs a model cache the sandboxes can write; cannot open {path} ({exc})"
                ) from None


@dataclass(frozen=True)
class Mount:
    """A host path bind-mounted into the sandbox (read-only unless `writable`)."""

    host: Path
    target: str
    writable: bool = False


class BatchBackend(ABC):
    """What every backend is: `check` (raise `SandboxUnavailable` with a fix), then `run` a batch,
    yielding one `ExecResult` per snippet as they finish, in any order. `stats` holds what the
    backend noticed about the run (nodes used and lost, ...) for the run's summary."""

    name: str = ""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.stats: dict = {}

    @abstractmethod
    def check(self) -> None:
        """Raise `SandboxUnavailable` with a fix if this backend cannot run."""

    @abstractmethod
    def run(self, snippets: list[Snippet]) -> Iterator[ExecResult]:
        """One result per snippet (no loss, no duplicate), as they finish."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class Backend(BatchBackend):
    """A sandbox on this machine: workers (see the module docstring) on a `WorkerPool`."""

    # Whether the sandbox has a root file system of its own (so /path can be a scratch dir).
    own_root: bool = True

    def __init__(self, config: SandboxConfig):
        super().__init__(config)
        self.libraries = config.library_dirs()
        self.world = resolve_world(config)
        self.cache = self.world.cache if self.world is not None else config.model_cache
        if config.network and self.cache is not None:
            share_download_cache(Path(self.cache))

    def mounts(self) -> list[Mount]:
        """Everything the sandbox sees from the host: the runner, the libraries, the world."""
        mounts = [Mount(RUNNER, RUNNER_PATH)]
        mounts += [Mount(path, f"{SITE_DIR}/{i}") for i, path in enumerate(self.libraries)]
        if self.cache is not None:
            mounts.append(Mount(Path(self.cache), CACHE_DIR, writable=self.config.network))
        elif self.world is not None:
            mounts += [Mount(path, f"{CACHE_DIR}/{name}") for name, path in sorted(self.world.mounts.items())]
        if self.world is not None:
            mounts.append(Mount(WORLD_HOST_DIR, WORLD_DIR))
        return mounts

    def world_request(self) -> dict:
        """What the in-sandbox world module needs (empty: no world)."""
        if self.world is None:
            return {}
        offline = not self.config.network
        return {
            "site": f"{WORLD_DIR}/sandbox_site.py",
            "inputs": f"{WORLD_DIR}/inputs",
            "web": offline,
            "torch_hub": f"{CACHE_DIR}/torch/hub",
            # torch.hub writes into TORCH_HOME (force_reload re-downloads and unpacks there): offline,
            # TORCH_HOME is a scratch dir whose hub/ links to the read-only stand-in repositories
            "torch_home": TORCH_SCRATCH if offline else None,
            "scratch_roots": [PLACEHOLDER_ROOT + "/"] if self.own_root and self.isolated() else [],
        }

    def isolated(self) -> bool:
        return True

    def sandbox_env(self) -> dict[str, str]:
        env = sandbox_env(self.config, uuid.uuid4().hex)
        torch_home = self.world_request().get("torch_home")
        if torch_home:
            env["TORCH_HOME"] = torch_home
        return env

    @abstractmethod
    def open_worker(self, index: int) -> Worker:
        """A worker for one thread of the scheduler."""

    def run(self, snippets: list[Snippet]) -> Iterator[ExecResult]:
        """The batch on `config.workers` workers of this backend (closed when the batch ends)."""
        pool = WorkerPool(self, own_backend=False)
        try:
            yield from pool.run(snippets)
        finally:
            pool.close()
            self.stats["worker_restarts"] = self.stats.get("worker_restarts", 0) + pool.restarts

    def make_request(
        self, code: str, *, clean_dirs: list[str] | None = None, snippet: Snippet | None = None
    ) -> dict:
        """The runner's request for one snippet (limits, environment, paths); `snippet` adds its
        input (stdin, files), the files to send back and limits tighter than the config's."""
        config = self.config
        extras = {}
        if snippet is not None:
            extras = {"stdin": snippet.stdin, "files": snippet.files, "fetch_files": snippet.fetch_files}
        return {
            "code": code,
            **{k: v for k, v in extras.items() if v},
            "workdir": WORKDIR,
            "timeout_s": min(config.timeout_s, snippet.timeout_s or config.timeout_s)
            if snippet
            else config.timeout_s,
            "memory_mb": min(config.memory_mb, snippet.memory_mb or config.memory_mb)
            if snippet
            else config.memory_mb,
            "reserve_mb": ADDRESS_SPACE_RESERVE_MB,
            "max_procs": config.max_procs,
            "max_file_mb": config.max_file_mb,
            "max_output_kb": config.max_output_kb,
            "env": self.sandbox_env(),
            "site_dirs": [f"{SITE_DIR}/{i}" for i in range(len(self.libraries))],
            "world": self.world_request(),
            "clean_dirs": clean_dirs or [],
            # --network: what a snippet downloads into the shared cache must stay writable for the
            # next sandbox, which runs under another uid (see `share_download_cache`).
            "umask": 0o000 if config.network else 0o022,
        }


# How long a fork server may take to import its preloaded modules before it counts as broken.
PRELOAD_TIMEOUT_S = 300.0
# Memory a fork server may use while importing (torch + transformers hold ~1 GB); once it is
# ready its limit becomes what it holds plus the snippet's own `memory_mb` (`fit_memory`).
PRELOAD_ALLOWANCE_MB = 4096
# Scratch directories a fork server wipes after every snippet (its sandbox outlives the snippet).
SERVER_SCRATCH = [WORKDIR, "/tmp", "/dev/shm"]


def worker_died(detail: str, stderr: str = "") -> dict:
    """The raw report for a snippet whose fork server died under it (the snippet killed it, or
    broke it): a runtime error of that snippet, reported once; the worker is replaced."""
    return {
        "child": {
            "exception": {
                "type": "WorkerDied",
                "mro": ["WorkerDied", "Exception", "BaseException"],
                "message": f"the sandbox worker died while running this snippet ({detail}); it was replaced",
                "hub": False,
            }
        },
        "returncode": None,
        "stdout": "",
        "stderr": stderr[-2000:],
    }


class Channel(ABC):
    """A line-oriented pipe to a fork server running inside a sandbox."""

    @abstractmethod
    def send(self, data: bytes) -> None: ...

    @abstractmethod
    def read_line(self, timeout: float) -> bytes | None:
        """One line; None at EOF (the server died); raises TimeoutError after `timeout` s."""

    @abstractmethod
    def stderr_tail(self) -> str: ...

    @abstractmethod
    def kill(self) -> None: ...


class ServerWorker(Worker):
    """A worker whose sandbox runs the runner's fork server (`in_sandbox.py --serve`): the heavy
    libraries are imported once per worker, each snippet runs in a fresh fork of it."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.channel: Channel | None = None
        self.info: dict = {}

    @abstractmethod
    def open_channel(self) -> Channel:
        """Start the sandbox with the fork server inside; return a channel to it."""

    def hello(self) -> dict:
        config = self.backend.config
        request = self.backend.make_request("")
        preload = config.preload_modules if config.preload_modules is not None else list(DEFAULT_PRELOAD)
        return {
            "env": request["env"],
            "site_dirs": request["site_dirs"],
            "preload": preload,
            "world": request["world"],
        }

    def _start(self) -> Channel:
        channel = self.open_channel()
        try:
            channel.send((json.dumps(self.hello()) + "\n").encode())
            line = channel.read_line(PRELOAD_TIMEOUT_S)
        except (TimeoutError, OSError) as exc:
            channel.kill()
            raise WorkerBroken(f"fork server did not start: {exc!r}") from None
        if not line:
            tail = channel.stderr_tail()
            channel.kill()
            raise WorkerBroken(f"fork server exited while preloading: {tail[-500:]}")
        self.info = json.loads(line)
        if self.info.get("failed"):
            log.info("not preloaded (not importable in the sandbox): %s", self.info["failed"])
        self.fit_memory(int(self.info.get("rss_mb", 0)))
        return channel

    def fit_memory(self, resident_mb: int) -> None:
        """Narrow the sandbox's memory limit to the server's resident size + `memory_mb`, so a
        snippet gets the same allowance whatever its worker preloaded."""

    def execute(self, request: dict) -> dict:
        if self.channel is None:
            self.channel = self._start()
        config = self.backend.config
        request = {**request, "clean_dirs": self.scratch_dirs()}
        try:
            self.channel.send((json.dumps(request) + "\n").encode())
            line = self.channel.read_line(config.timeout_s + GRACE_S)
        except TimeoutError:
            self.close()
            raise WorkerBroken("fork server hung", harness_timeout(config)) from None
        except OSError as exc:
            line, error = None, exc
        else:
            error = None
        if not line:
            tail = self.channel.stderr_tail()
            self.close()
            detail = f"{error!r}" if error else "its process exited"
            raise WorkerBroken("fork server died", worker_died(detail, tail))
        return json.loads(line)

    def scratch_dirs(self) -> list[str]:
        roots = self.backend.world_request().get("scratch_roots", [])
        return SERVER_SCRATCH + [root.rstrip("/") for root in roots]

    def close(self) -> None:
        if self.channel is not None:
            self.channel.kill()
            self.channel = None


def harness_timeout(config: SandboxConfig) -> dict:
    return {
        "timed_out": True,
        "timeout_message": f"no answer from the sandbox within {config.timeout_s + GRACE_S:.0f} s; killed",
    }


# ---- the scheduler every local and docker batch goes through -----------------------------------------
def to_result(snippet_id: str, raw: dict) -> ExecResult:
    fields = classify(raw)
    return ExecResult(
        id=snippet_id,
        status=Status(fields["status"]),
        exit_code=fields["exit_code"],
        duration_s=raw.get("duration_s", 0.0),
        error_type=fields["error_type"],
        error_message=fields["error_message"],
        traceback=((raw.get("child") or {}).get("exception") or {}).get("traceback"),
        stdout=raw.get("stdout", ""),
        stderr=raw.get("stderr", ""),
        files=raw.get("files"),
    )


class WorkerPool:
    """Warm workers of one sandbox backend, one per thread of a thread pool, opened lazily,
    replaced when broken, all closed at the end. Every snippet of every backend runs through
    one: per batch in `run_snippets`, long-lived in `gorilla-bench serve` and in each Ray node's
    actor (`SandboxPool`)."""

    def __init__(self, backend: Backend, *, own_backend: bool = True):
        self.backend = backend
        self.own_backend = own_backend
        # threads start as snippets arrive (ThreadPoolExecutor spawns one per submit while none
        # is idle), so a batch smaller than `workers` opens only as many workers as it needs
        self.executor = ThreadPoolExecutor(max_workers=backend.config.workers, thread_name_prefix="sandbox")
        self.local = threading.local()
        self.opened: list[Worker] = []
        self.lock = threading.Lock()
        self.counter = 0
        self.restarts = 0

    def get(self) -> Worker:
        worker = getattr(self.local, "worker", None)
        if worker is None:
            with self.lock:
                index = self.counter
                self.counter += 1
            worker = self.backend.open_worker(index)
            with self.lock:
                self.opened.append(worker)
            self.local.worker = worker
        return worker

    def discard(self) -> None:
        worker = getattr(self.local, "worker", None)
        self.local.worker = None
        with self.lock:
            self.restarts += 1
        if worker is not None:
            worker.close()

    def submit(self, snippet: Snippet) -> Future[ExecResult]:
        return self.executor.submit(run_one, self, snippet)

    def run(self, snippets: list[Snippet]) -> Iterator[ExecResult]:
        """One result per snippet, as they finish."""
        for future in as_completed([self.submit(s) for s in snippets]):
            yield future.result()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for worker in self.opened:
            try:
                worker.close()
            except Exception as exc:
                log.warning("closing a sandbox worker failed: %s", exc)
        if self.own_backend:
            self.backend.close()


def run_one(pool: WorkerPool, snippet: Snippet) -> ExecResult:
    """One snippet on the calling thread's worker; a broken worker is replaced and tried once more."""
    start = time.monotonic()
    for attempt in (1, 2):
        try:
            raw = pool.get().execute(pool.backend.make_request(snippet.code, snippet=snippet))
            return to_result(snippet.id, raw)
        except WorkerBroken as exc:
            pool.discard()
            if len(exc.args) > 1 and isinstance(exc.args[1], dict):  # the worker knows the outcome
                return to_result(snippet.id, {**exc.args[1], "duration_s": time.monotonic() - start})
            log.warning("sandbox worker broke on %s (attempt %d): %s", snippet.id, attempt, exc.args[0])
            error = exc
        except Exception as exc:  # the harness failed, not the snippet
            log.exception("sandbox error on %s", snippet.id)
            pool.discard()
            error = exc
    return ExecResult(
        id=snippet.id,
        status=Status.sandbox_error,
        duration_s=time.monotonic() - start,
        error_type=type(error).__name__,
        error_message=str(error)[:2000],
    )

"""The local backend: bubblewrap when installed, else a bare process with rlimits (loudly).

bubblewrap gives each snippet new PID, network, IPC and UTS namespaces, a root file system made
only of read-only system directories, the Python interpreter, the mounted libraries and model
cache, and a fresh writable /work and /tmp. Started as root, the runner drops to a random unused
uid (so RLIMIT_NPROC applies to the snippet alone and it owns no file outside its scratch dirs).
When bubblewrap is missing the snippet still gets rlimits, a scrubbed environment and its own
process group, but it can read the file system and reach the network: a warning says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from gorilla_rlaif.harness.backends.base import (
    CACHE_DIR,
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
    harness_timeout,
)
from gorilla_rlaif.harness.cgroup import MemoryCgroup
from gorilla_rlaif.harness.cgroup import available as cgroup_available
from gorilla_rlaif.harness.config import RUNNER

log = logging.getLogger(__name__)

# Non-secret files of /etc that programs need (dynamic linker, TLS roots, name resolution).
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "nsswitch.conf",
    "hosts",
    "resolv.conf",
    "localtime",
    "passwd",
    "group",
    "alternatives",
    "mime.types",
)
ROOT_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Sandbox uids are drawn from a range no real account uses, one per run, so two snippets (or two
# harness runs on one machine) never share a process count or file ownership.
UID_RANGE = (200_000, 2_000_000)


def interpreter() -> tuple[str, str]:
    """The base interpreter (not the venv's wrapper) and the prefix to bind for it."""
    return os.path.realpath(sys.executable), sys.base_prefix


def parse_report(stdout: bytes, stderr: bytes, returncode: int) -> dict:
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        if line.strip():
            try:
                return json.loads(line)
            except ValueError:
                break
    tail = stderr.decode("utf-8", "replace")[-1500:]
    return {"child": {"setup_error": f"runner exited with {returncode} and no report: {tail}"}}


class LocalWorker(Worker):
    def __init__(self, backend: LocalBackend):
        self.backend = backend

    def execute(self, request: dict) -> dict:
        config = self.backend.config
        scratch = Path(tempfile.mkdtemp(prefix=scratch_prefix()))
        work, tmp = scratch / "work", scratch / "tmp"
        work.mkdir()
        tmp.mkdir()
        uid = random.randint(*UID_RANGE)
        cgroup = MemoryCgroup.create(config.memory_mb) if self.backend.use_cgroup else None
        try:
            if self.backend.isolation == "bwrap":
                if os.geteuid() == 0:
                    for path in (scratch, work, tmp):
                        os.chown(path, uid, uid)
                argv = self.backend.bwrap_argv(work, tmp, uid, request)
            else:
                request = self._unisolated_request(request, work, tmp)
                argv = [interpreter()[0], "-I", "-S", str(RUNNER), "-"]
            if cgroup is not None:
                argv = cgroup.wrap(argv)
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # Only the run's marker: descendants inherit it, so `kill_marked` finds them.
                env={"GORILLA_SANDBOX_RUN": request["env"]["GORILLA_SANDBOX_RUN"]},
                start_new_session=True,
            )
            try:
                out, err = proc.communicate(json.dumps(request).encode(), timeout=config.timeout_s + GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                return harness_timeout(config)
            return mark_oom(parse_report(out, err, proc.returncode), cgroup, 0)
        finally:
            if self.backend.isolation == "process":
                kill_marked(request["env"]["GORILLA_SANDBOX_RUN"])
            if cgroup is not None:
                cgroup.remove()
            shutil.rmtree(scratch, ignore_errors=True)

    def _unisolated_request(self, request: dict, work: Path, tmp: Path) -> dict:
        return unisolated_request(self.backend, request, work, tmp)


class ProcessChannel(Channel):
    """The fork server as a child process of the harness (inside bwrap, or bare)."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        # The server's own stderr (import warnings, a crash) goes to a file, read back on failure.
        self.err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            env=env,
            start_new_session=True,
        )
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read_line(self, timeout: float) -> bytes | None:
        import select
        import time

        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer within {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def stderr_tail(self) -> str:
        with contextlib.suppress(Exception):
            self.err.seek(max(0, self.err.seek(0, 2) - 2000))
            return self.err.read().decode("utf-8", "replace")
        return ""

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.err):
            with contextlib.suppress(Exception):
                stream.close()


class LocalServerWorker(ServerWorker):
    """One bubblewrap sandbox per worker with the fork server inside; the scratch dirs and the
    sandbox uid belong to the worker and are wiped after every snippet."""

    def __init__(self, backend: LocalBackend):
        super().__init__(backend)
        self.scratch: Path | None = None
        self.marker = ""
        self.cgroup: MemoryCgroup | None = None

    def open_channel(self) -> Channel:
        import uuid

        self.scratch = Path(tempfile.mkdtemp(prefix=scratch_prefix()))
        work, tmp = self.scratch / "work", self.scratch / "tmp"
        work.mkdir()
        tmp.mkdir()
        self.marker = f"worker-{uuid.uuid4().hex}"
        if self.backend.isolation == "bwrap":
            uid = random.randint(*UID_RANGE)
            if os.geteuid() == 0:
                for path in (self.scratch, work, tmp):
                    os.chown(path, uid, uid)
            argv = self.backend.bwrap_argv(work, tmp, uid, {}, serve=True)
        else:
            argv = [interpreter()[0], "-I", "-S", str(RUNNER), "--serve"]
        if self.cgroup is not None:  # a replaced server: its predecessor's cgroup goes with it
            self.cgroup.remove()
        memory = self.backend.config.memory_mb + PRELOAD_ALLOWANCE_MB
        self.cgroup = MemoryCgroup.create(memory) if self.backend.use_cgroup else None
        if self.cgroup is not None:
            argv = self.cgroup.wrap(argv)
        return ProcessChannel(argv, {"GORILLA_SANDBOX_RUN": self.marker})

    def fit_memory(self, resident_mb: int) -> None:
        if self.cgroup is not None:
            self.cgroup.set_limit(resident_mb + self.backend.config.memory_mb)

    def hello(self) -> dict:
        hello = super().hello()
        if self.backend.isolation == "process":
            hello.update(
                {
                    k: v
                    for k, v in unisolated_request(
                        self.backend,
                        {**hello, "workdir": WORKDIR},
                        self.scratch / "work",
                        self.scratch / "tmp",
                    ).items()
                    if k in ("env", "site_dirs", "world")
                }
            )
        return hello

    def scratch_dirs(self) -> list[str]:
        if self.backend.isolation == "process":
            return [str(self.scratch / "work"), str(self.scratch / "tmp")]
        return super().scratch_dirs()

    def execute(self, request: dict) -> dict:
        if self.backend.isolation == "process":
            if self.channel is None:
                self.channel = self._start()
            request = unisolated_request(self.backend, request, self.scratch / "work", self.scratch / "tmp")
        cgroup = self.cgroup
        before = cgroup.oom_kills() if cgroup is not None else None
        try:
            report = super().execute(request)
            # The server (and its cgroup) may have been started or replaced during this call:
            # then every OOM kill its new cgroup counted happened during this snippet.
            return mark_oom(report, self.cgroup, before if self.cgroup is cgroup else 0)
        finally:
            if self.backend.isolation == "process":
                kill_marked(request["env"]["GORILLA_SANDBOX_RUN"])

    def close(self) -> None:
        super().close()
        if self.backend.isolation == "process" and self.marker:
            kill_marked(self.marker)
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def scratch_prefix() -> str:
    """Scratch dirs are named by the harness process that made them, so leftovers can be traced
    (and a test tells its own from those of other runs sharing the machine)."""
    return f"gorilla-sandbox-{os.getpid()}-"


def unisolated_request(backend: LocalBackend, request: dict, work: Path, tmp: Path) -> dict:
    """Without namespaces the sandbox's paths do not exist: point the request at the host paths
    the mounts would have shown (scratch dirs, libraries, world, caches)."""
    mapping = [(m.target, str(m.host)) for m in backend.mounts()] + [(WORKDIR, str(work)), ("/tmp", str(tmp))]
    mapping.sort(key=lambda pair: -len(pair[0]))

    def host(path: str) -> str:
        for target, source in mapping:
            if path == target or path.startswith(target + "/"):
                return source + path[len(target) :]
        return path

    env = {key: host(value) if value.startswith("/") else value for key, value in request["env"].items()}
    env.update(
        HOME=str(tmp),
        TMPDIR=str(tmp),
        MPLCONFIGDIR=str(tmp / "matplotlib"),
        XDG_CACHE_HOME=str(tmp / ".cache"),
    )
    world = {
        k: host(v) if isinstance(v, str) and v.startswith("/") else v
        for k, v in (request.get("world") or {}).items()
    }
    return {
        **request,
        "workdir": str(work),
        "env": env,
        "site_dirs": [host(p) for p in request.get("site_dirs", [])],
        "world": world,
    }


def mark_oom(report: dict, cgroup: MemoryCgroup | None, before: int | None) -> dict:
    """The runner cannot see the host's cgroup from inside bubblewrap: tell the classifier
    whether the kernel's OOM killer struck during this snippet (its SIGKILL is then `oom`)."""
    if cgroup is not None and before is not None:
        after = cgroup.oom_kills()
        if after is not None and after > before:
            report["oom_killed"] = True
    return report


def kill_marked(marker: str) -> None:
    """Without a PID namespace, find what the snippet left running by its environment marker."""
    needle = f"GORILLA_SANDBOX_RUN={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            with contextlib.suppress(OSError):
                os.kill(int(entry), signal.SIGKILL)


def _parent_dirs(targets: list[str]) -> list[str]:
    argv: list[str] = []
    seen: set[str] = set()
    for target in targets:
        for parent in reversed(Path(target).parents):
            if str(parent) == "/" or str(parent) in seen:
                continue
            seen.add(str(parent))
            argv += ["--perms", "0755", "--dir", str(parent)]
    return argv


class LocalBackend(Backend):
    name = "local"

    def __init__(self, config):
        super().__init__(config)
        self.isolation = self._choose_isolation()
        # --memory-mb caps the snippet and all its processes together when a memory cgroup can
        # be made (root, writable controller); otherwise it is a per-process rlimit only.
        self.use_cgroup = cgroup_available()
        if not self.use_cgroup:
            log.info("no memory cgroup here: --memory-mb is a per-process limit on the local backend")

    def _choose_isolation(self) -> str:
        wanted = self.config.local_isolation
        has_bwrap = shutil.which("bwrap") is not None
        if wanted == "bwrap" and not has_bwrap:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        if wanted == "process" or not has_bwrap:
            log.warning(
                "local backend WITHOUT bubblewrap: snippets get rlimits, a scrubbed environment and "
                "their own process group, but they can READ YOUR FILES and USE THE NETWORK. Install "
                "bubblewrap (apt-get install bubblewrap) or use --backend docker for untrusted code."
            )
            return "process"
        return "bwrap"

    def isolated(self) -> bool:
        return self.isolation == "bwrap"

    def check(self) -> None:
        if self.isolation != "bwrap":
            return
        probe = subprocess.run(
            ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
            capture_output=True,
            text=True,
            env={},
        )
        if probe.returncode != 0:
            raise SandboxUnavailable(
                f"bubblewrap cannot create namespaces here ({probe.stderr.strip()}); "
                "use --backend docker or local_isolation='process'"
            )

    def open_worker(self, index: int) -> Worker:
        if self.config.preload:
            return LocalServerWorker(self)
        return LocalWorker(self)

    def bwrap_argv(self, work: Path, tmp: Path, uid: int, request: dict, *, serve: bool = False) -> list[str]:
        config = self.config
        python, prefix = interpreter()
        argv = ["bwrap", "--die-with-parent", "--new-session"]
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        if not config.network:
            argv.append("--unshare-net")
        argv += ["--ro-bind", "/usr", "/usr"]
        for name in ROOT_DIRS:
            path = Path("/") / name
            if path.is_symlink():
                argv += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                argv += ["--ro-bind", str(path), str(path)]
        # a traversable /etc (bubblewrap would create it 0700 for root, hiding ld.so.cache and the
        # /etc/alternatives links shared libraries such as libblas resolve through)
        argv += ["--perms", "0755", "--dir", "/etc"]
        for name in ETC_FILES:
            argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        # /dev/shm writable by the snippet: multiprocessing's semaphores live there (docker has it too)
        argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm"]
        argv += ["--bind", str(work), WORKDIR, "--bind", str(tmp), "/tmp"]
        mounts = self.mounts()
        # bubblewrap creates missing parents of a mount point as 0700 root dirs, which the
        # sandbox uid could not traverse: create them 0755 first.
        targets = [m.target for m in mounts] + [f"{CACHE_DIR}/x"]
        if not prefix.startswith("/usr/"):
            targets.append(prefix)
        argv += _parent_dirs(targets)
        if not prefix.startswith("/usr/"):
            argv += ["--ro-bind", prefix, prefix]
        for mount in mounts:
            argv += ["--bind" if mount.writable else "--ro-bind", str(mount.host), mount.target]
        if not any(m.target == CACHE_DIR for m in mounts):
            argv += ["--dir", CACHE_DIR]
        if self.world is not None:
            argv += ["--perms", "1777", "--dir", PLACEHOLDER_ROOT]
        argv += ["--chdir", WORKDIR]
        runner_args = ["--kill-all"]
        if os.geteuid() == 0:
            # Root without a user namespace: keep only what the runner needs to drop to `uid`.
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            runner_args += ["--uid", str(uid), "--gid", str(uid)]
        else:
            argv.append("--unshare-user")
        return [*argv, python, "-I", "-S", RUNNER_PATH, *runner_args, "--serve" if serve else "-"]

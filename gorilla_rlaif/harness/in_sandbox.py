"""The program that executes ONE snippet inside the sandbox and reports what happened as JSON.

This file runs under the sandbox's own Python (Debian's python3 in the container, the host's base
interpreter under bubblewrap), so it uses the standard library only and is mounted, not imported
from the package. The host turns its raw report into a `schema.Status` (`classify.py`).

Why a supervisor inside the sandbox instead of `python -c CODE` and grepping stderr: the status
must come from the snippet's real exception (type, MRO, exception chain, the frames it passed
through), and the limits must be applied to the snippet alone. So the runner forks a child that
(1) starts its own session, (2) applies rlimits, (3) builds its environment from scratch,
(4) compiles and execs the code as `__main__`, and (5) sends a structured description of any
exception through a pipe. The parent (the supervisor) reads stdout/stderr with caps (it keeps
the first N KiB and discards the rest, never buffering more), kills the child's session at the
deadline, kills every process the snippet left behind (`kill(-1)` inside the sandbox's PID
namespace), wipes the scratch directories, and prints a single JSON line. A fork server that keeps
libraries preloaded reuses `run_request` per fork unchanged.

Preloaded mode: `--serve` turns the supervisor into a long-lived fork server. It reads
a hello line (environment, site dirs, modules to preload) on stdin, imports those modules ONCE,
answers `{"ready": ...}`, then reads one request per line and answers one report per line. Each
request still runs in its own forked child through `run_request`: fork copies the preloaded
interpreter, so whatever a snippet does to modules, `os.environ`, threads or files dies with its
child (copy-on-write memory; session killed; scratch dirs wiped), and the next snippet starts from
the pristine preloaded state. The protocol channel is a private fd the child closes first.

Usage: python3 -I -S in_sandbox.py [--uid N --gid N] [--kill-all] REQUEST_B64 [REQUEST_B64 ...]
       python3 -I -S in_sandbox.py [--uid N --gid N] [--kill-all] --serve   (preloaded fork server)
       python3 -I -S in_sandbox.py --reaper   (PID 1 of a warm container)
(the request JSON, base64-encoded, may be split across arguments: one argument is capped at
128 KiB by the kernel).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import sys
import time

# Where code lives that talks to a model hub. An OSError/URLError/ValueError raised while one of
# these frames is on the stack is a hub failure (model not in the offline cache, no network),
# not a bug of the snippet.
HUB_PATH_MARKERS = (
    "/huggingface_hub/",
    "/transformers/utils/hub.py",
    "/transformers/dynamic_module_utils.py",
    "/torch/hub.py",
    "/tensorflow_hub/",
    "/keras/utils/data_utils.py",
    "/keras/src/utils/file_utils.py",
    "/datasets/load.py",
    "/yolov5/models/experimental.py",  # attempt_load: the weights yolov5.load could not download
)
HUB_EXCEPTION_MODULES = ("huggingface_hub.", "requests.exceptions", "urllib3.exceptions")
# TensorFlow's file errors are no OSErrors: tensorflow_hub's cache lock on the read-only /cache
# raises tf.errors.PermissionDeniedError for a handle that is not in the world.
HUB_FRAME_ERROR_MODULES = ("tensorflow.python.framework.errors_impl",)
CHAIN_DEPTH = 8
MESSAGE_CHARS = 2000
TRACEBACK_CHARS = 4000
# File descriptors of the fork server (its protocol channel) that a snippet must never hold.
_SERVER_FDS: list[int] = []
_WORLD_MODULE = None


# ----------------------------------------------------------------------------- the child side


def _is_hub_exception(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    if module.startswith(HUB_EXCEPTION_MODULES):
        return True
    import urllib.error

    tb = exc.__traceback__
    if isinstance(exc, RuntimeError) and tb is not None:
        # torch.hub's own "Cannot find callable X in hubconf" / "no internet connection and the repo
        # could not be found in the cache": raised by torch/hub.py itself (not by the entry it ran)
        last = tb
        while last.tb_next is not None:
            last = last.tb_next
        return "/torch/hub.py" in last.tb_frame.f_code.co_filename
    if not isinstance(exc, (OSError, urllib.error.URLError, ValueError)) and not module.startswith(
        HUB_FRAME_ERROR_MODULES
    ):
        return False
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if any(marker in filename for marker in HUB_PATH_MARKERS):
            return True
        tb = tb.tb_next
    return False


def _add_site_dirs(paths: list[str]) -> None:
    """Mounted site-packages go FIRST on sys.path: the sandbox interpreter's own site-packages
    (the host's base Python under bubblewrap) may hold other versions (e.g. numpy 2, which the
    execution environment's TensorFlow cannot import)."""
    import site

    before = list(sys.path)
    for path in paths:
        site.addsitedir(path)
    added = [p for p in sys.path if p not in before]
    sys.path[:] = added + before


def describe_exception(exc: BaseException) -> dict:
    """Structured facts about an exception: what `classify` needs, and what a human reads."""
    import traceback

    chain, seen, cur = [], set(), exc
    while cur is not None and id(cur) not in seen and len(chain) < CHAIN_DEPTH:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "mro": [cls.__name__ for cls in type(exc).__mro__],
        "message": str(exc)[:MESSAGE_CHARS],
        "hub": any(_is_hub_exception(e) for e in chain),
        "chain": [f"{type(e).__module__}.{type(e).__qualname__}" for e in chain],
        "traceback": text[-TRACEBACK_CHARS:],
    }


def _apply_limits(req: dict) -> None:
    import resource

    mb = 1 << 20
    limits = {
        # In a fork server the preloaded libraries are already mapped (shared, copy-on-write):
        # the snippet's allowance comes on top of them, as its memory limit means "its own work".
        resource.RLIMIT_AS: (req["memory_mb"] + req.get("memory_base_mb", 0) + req.get("reserve_mb", 0)) * mb,
        resource.RLIMIT_FSIZE: req["max_file_mb"] * mb,
        resource.RLIMIT_CORE: 0,
        # CPU seconds: a second line of defence behind the supervisor's wall clock.
        resource.RLIMIT_CPU: int(req["timeout_s"]) + 2,
    }
    if req.get("max_procs"):
        limits[resource.RLIMIT_NPROC] = req["max_procs"]
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))  # soft = hard: the snippet cannot raise them


def _child(req: dict, out_w: int, err_w: int, rep_w: int) -> None:
    """Runs in the forked child; never returns."""
    code = 1
    me = os.getpid()  # processes the snippet forks run this code too: only `me` may report
    try:
        for fd in _SERVER_FDS:
            with contextlib.suppress(OSError):
                os.close(fd)
        os.setsid()
        _set_dumpable(True)
        # The kernel's OOM killer should pick the snippet, not the (larger) preloaded server beside
        # it in the same cgroup: raising one's own score needs no privilege.
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
        stdin = _stdin_fd(req.get("stdin") or "")
        os.dup2(stdin, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (stdin, out_w, err_w):
            os.close(fd)
        os.chdir(req["workdir"])
        os.umask(req.get("umask", 0o022))
        _put_files(req.get("files") or {})
        os.environ.clear()
        os.environ.update(req["env"])
        _add_site_dirs(req.get("site_dirs", []))
        sys.argv = ["snippet.py"]
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        report: dict = {"phase": "compile"}
        world_warning = _prepare_world(req)
        if world_warning:
            report["world_warning"] = world_warning
        _apply_limits(req)
        try:
            compiled = compile(req["code"], "snippet.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:  # ValueError: source with NUL bytes
            report["exception"] = describe_exception(exc)
            report["syntax"] = True
        else:
            import types

            module = types.ModuleType("__main__")
            module.__file__ = os.path.join(req["workdir"], "snippet.py")
            sys.modules["__main__"] = module
            report["phase"] = "run"
            try:
                exec(compiled, module.__dict__)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if code != 0:
                    report["exception"] = describe_exception(exc)
            except BaseException as exc:
                report["exception"] = describe_exception(exc)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        report["exit_code"] = code
        if os.getpid() == me:
            os.write(rep_w, json.dumps(report).encode())
    except BaseException as exc:  # the runner itself failed in the child (e.g. bad request)
        with contextlib.suppress(Exception):
            if os.getpid() == me:
                os.write(rep_w, json.dumps({"phase": "setup", "setup_error": repr(exc)}).encode())
    finally:
        os._exit(code if 0 <= code < 256 else 1)


def _stdin_fd(text: str) -> int:
    """The snippet's standard input: /dev/null, or an in-memory file holding `text` (a pipe would
    block the writer once the text outgrows the pipe's buffer)."""
    if not text:
        return os.open(os.devnull, os.O_RDONLY)
    fd = os.memfd_create("stdin")
    data = text.encode("utf-8")
    while data:
        data = data[os.write(fd, data) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _inside(workdir: str, path: str) -> str:
    """`path` under `workdir`, refusing anything that leaves it (the host checks this too)."""
    full = os.path.normpath(os.path.join(workdir, path))
    if os.path.isabs(path) or not full.startswith(os.path.normpath(workdir) + os.sep):
        raise ValueError(f"{path!r} is outside the working directory")
    return full


def _put_files(files: dict) -> None:
    """The request's input files, written into the working directory before the snippet runs."""
    for path, data in files.items():
        full = _inside(os.getcwd(), path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(base64.b64decode(data))


def _fetch_files(workdir: str, paths: list, limit: int) -> dict:
    """The files the request asked back (base64), read before the scratch dirs are wiped; a file
    that is missing, a link, not a regular file or larger than `limit` bytes is left out."""
    import stat

    found = {}
    for path in paths:
        try:
            full = _inside(workdir, path)
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except (OSError, ValueError):
            continue
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and info.st_size <= limit:
                with os.fdopen(os.dup(fd), "rb") as f:
                    found[path] = base64.b64encode(f.read(limit + 1)[:limit]).decode()
        finally:
            os.close(fd)
    return found


def _world_module(req: dict):
    """The stand-in world's in-sandbox module (sample inputs, offline web), loaded once per
    process from the path the request names (a fork server loads it before forking)."""
    global _WORLD_MODULE
    path = (req.get("world") or {}).get("site")
    if not path:
        return None
    if _WORLD_MODULE is None or _WORLD_MODULE.__file__ != path:
        import importlib.util

        spec = importlib.util.spec_from_file_location("gorilla_world_site", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _WORLD_MODULE = module
    return _WORLD_MODULE


def _prepare_world(req: dict) -> str | None:
    """Put the world's sample inputs in place and answer the offline web; a failure here is
    reported with the result but never stops the snippet (it then meets a world without them)."""
    try:
        module = _world_module(req)
        if module is not None:
            module.prepare(req)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None


# ------------------------------------------------------------------------ the supervisor side


def _set_dumpable(flag: bool) -> None:
    """PR_SET_DUMPABLE=0 makes /proc/<supervisor>/fd unreachable for the snippet (same uid), so it
    cannot write into the report channel; the child turns it back on for itself."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 1 if flag else 0, 0, 0, 0)
    except Exception:
        pass


def _oom_kills() -> int | None:
    """This sandbox's memory cgroup OOM-kill counter (v2 memory.events or v1 memory.oom_control)."""
    return oom_kill_count(("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"))


def oom_kill_count(paths) -> int | None:
    """The `oom_kill` counter of the first readable cgroup file among `paths` (also used by the
    host for the local backend's cgroups, which bubblewrap does not show the runner)."""
    for path in paths:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


class _Capture:
    """Keeps the first `limit` bytes of a stream and counts the rest (never buffers more)."""

    def __init__(self, limit: int):
        self.limit, self.data, self.total = limit, bytearray(), 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if self.total > len(self.data):
            text += f"\n[... truncated: {self.total - len(self.data)} more bytes]"
        return text


def _kill_leftovers(pgid: int, kill_all: bool) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)
    # kill(-1) reaches every process this uid may signal except ourselves and the namespace's
    # init: with a dedicated uid inside a PID namespace that is exactly what the snippet started
    # (daemons that left the session included). Never as root, never outside a sandbox.
    if kill_all and os.getuid() != 0:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # reap our children (and orphans, if we are PID 1)
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = -1
        if pid > 0:
            continue
        # Orphans are reaped by the namespace's init; until then their zombies still count
        # against the PID limit, so the next snippet waits for them here.
        if not kill_all or not _other_processes():
            break
        time.sleep(0.01)


def _other_processes() -> list[int]:
    """PIDs (zombies included) of our uid in this PID namespace, other than init and us."""
    me, uid, found = os.getpid(), os.getuid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me):
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def reap_forever() -> None:
    """PID 1 of a warm container: reap the orphans snippets leave (a plain `sleep` would not,
    and their zombies would count against the PID limit). kill(-1) never reaches PID 1."""
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
    while True:
        signal.sigwait([signal.SIGCHLD])
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass


def _wipe(paths: list[str]) -> None:
    """Empty scratch directories between snippets of a reused container."""
    import shutil

    for root in paths:
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, _ in os.walk(root):
            for name in dirnames:  # a snippet may have chmod 000'ed a directory
                path = os.path.join(dirpath, name)
                if os.path.islink(path):  # never through a link: it may point into the world
                    continue
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
        for name in os.listdir(root):
            path = os.path.join(root, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def run_request(req: dict, *, kill_all: bool = False) -> dict:
    """Run one snippet in a forked child under `req`'s limits; return the raw report."""
    cap = req["max_output_kb"] * 1024
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    rep_r, rep_w = os.pipe()
    os.makedirs(req["workdir"], exist_ok=True)
    oom_before = _oom_kills()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        for fd in (out_r, err_r, rep_r):
            os.close(fd)
        _child(req, out_w, err_w, rep_w)
    for fd in (out_w, err_w, rep_w):
        os.close(fd)
    _set_dumpable(False)
    pidfd = os.pidfd_open(pid)
    captures = {out_r: _Capture(cap), err_r: _Capture(cap), rep_r: _Capture(1 << 20)}
    open_fds = set(captures)
    deadline = start + req["timeout_s"]
    timed_out, status = False, None
    while status is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        ready, _, _ = select.select([*open_fds, pidfd], [], [], remaining)
        for fd in ready:
            if fd == pidfd:
                _, status = os.waitpid(pid, 0)
                continue
            chunk = os.read(fd, 65536)
            if chunk:
                captures[fd].feed(chunk)
            else:
                open_fds.discard(fd)
    duration = time.monotonic() - start
    _kill_leftovers(pid, kill_all)
    for fd in list(open_fds):  # whatever was written before the end
        os.set_blocking(fd, False)
        try:
            while chunk := os.read(fd, 65536):
                captures[fd].feed(chunk)
        except (BlockingIOError, OSError):
            pass
    for fd in (out_r, err_r, rep_r, pidfd):
        os.close(fd)
    oom_after = _oom_kills()
    try:
        child_report = json.loads(bytes(captures[rep_r].data) or b"{}")
    except ValueError:
        child_report = {"setup_error": "unreadable report from the child"}
    raw = {
        "child": child_report,
        "timed_out": timed_out,
        "returncode": os.waitstatus_to_exitcode(status),
        "duration_s": round(duration, 4),
        "stdout": captures[out_r].text(),
        "stderr": captures[err_r].text(),
        "oom_killed": bool(oom_before is not None and oom_after is not None and oom_after > oom_before),
    }
    if req.get("fetch_files"):
        raw["files"] = _fetch_files(req["workdir"], req["fetch_files"], req["max_file_mb"] << 20)
    _wipe(req.get("clean_dirs", []))
    return raw


def _address_space_mb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE") // (1 << 20)


def _resident_mb() -> int:
    """Anonymous resident memory (resident minus file-backed pages): what the server holds that
    the kernel cannot drop. File pages of the mapped libraries are reclaimable, so they are not
    counted: a snippet's allowance would otherwise grow by whatever the kernel can evict."""
    with open("/proc/self/statm") as f:
        fields = f.read().split()
    return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE") // (1 << 20)


def serve(kill_all: bool) -> None:
    """The preloaded fork server: import once, then fork a fresh child per request (see top)."""
    import importlib

    proto = os.dup(1)  # the protocol channel; fd 1 now points at stderr so imports can't corrupt it
    os.dup2(2, 1)
    _SERVER_FDS.append(proto)
    _set_dumpable(False)
    inp = os.fdopen(0, "rb", closefd=False)

    def answer(obj: dict) -> None:
        data = (json.dumps(obj) + "\n").encode()
        while data:
            data = data[os.write(proto, data) :]

    hello = json.loads(inp.readline() or b"{}")
    os.environ.clear()
    os.environ.update(hello.get("env", {}))
    _add_site_dirs(hello.get("site_dirs", []))
    loaded, failed = [], {}
    start = time.monotonic()
    for name in hello.get("preload", []):
        try:
            importlib.import_module(name)
            loaded.append(name)
        except BaseException as exc:  # only what is importable is preloaded
            failed[name] = f"{type(exc).__name__}: {exc}"[:300]
    world = hello.get("world") or {}
    if world.get("web"):  # patch once here: every forked snippet inherits it
        try:
            _world_module(hello).install_offline_web(world["inputs"], world.get("torch_hub"))
        except Exception as exc:
            failed["world"] = f"{type(exc).__name__}: {exc}"[:300]
    base_mb = _address_space_mb()
    answer(
        {
            "ready": True,
            "preloaded": loaded,
            "failed": failed,
            "base_mb": base_mb,
            "rss_mb": _resident_mb(),
            "preload_s": round(time.monotonic() - start, 3),
        }
    )
    while line := inp.readline():
        if not line.strip():
            continue
        req = json.loads(line)
        req["memory_base_mb"] = base_mb
        try:
            raw = run_request(req, kill_all=kill_all)
        except Exception as exc:  # the server itself failed on this request: report, keep serving
            raw = {"child": {"setup_error": f"fork server: {exc!r}"}}
        answer(raw)


def decode_request(chunks: list[str]) -> dict:
    return json.loads(base64.b64decode("".join(chunks)))


def encode_request(req: dict, chunk: int = 100_000) -> list[str]:
    data = base64.b64encode(json.dumps(req).encode()).decode()
    return [data[i : i + chunk] for i in range(0, len(data), chunk)] or [""]


def main(argv: list[str]) -> int:
    uid = gid = None
    kill_all = serving = False
    args = list(argv)
    while args and args[0].startswith("--"):
        flag = args.pop(0)
        if flag == "--uid":
            uid = int(args.pop(0))
        elif flag == "--gid":
            gid = int(args.pop(0))
        elif flag == "--kill-all":
            kill_all = True
        elif flag == "--reaper":
            reap_forever()
        elif flag == "--serve":
            serving = True
        else:
            raise SystemExit(f"runner: unknown flag {flag}")
    if uid is not None and os.getuid() == 0:
        # Drop to the sandbox's own uid (bubblewrap starts us as root with only these caps).
        os.setgroups([])
        os.setgid(gid if gid is not None else uid)
        os.setuid(uid)
    if serving:
        serve(kill_all)
        return 0
    req = decode_request(args) if args and args != ["-"] else json.load(sys.stdin)
    raw = run_request(req, kill_all=kill_all)
    sys.stdout.write(json.dumps(raw) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The execution environment: a virtualenv holding the libraries APIBench code imports.

APIBench answers were written in 2023 against transformers 4.x, TensorFlow 2 with Keras 2,
tensorflow_hub, diffusers, sentence-transformers, ... The project's own virtualenv cannot hold
them (TRL needs transformers 5, which removed pipelines and classes those answers call), so the
sandbox gets an environment of its own, pinned by `apibench-env.lock` beside this file. Its
site-packages are bind-mounted read-only into every sandbox (bubblewrap and docker alike); the
interpreter stays the sandbox's Python 3.11.

The environment is built once per lock file (its directory is named by the lock's hash), under
`cache_root()`, with `pip install --no-deps -r apibench-env.lock` (the lock pins every package, so
no resolver runs and a fresh machine gets exactly the same set) and checked with `pip check`.
Concurrent builders wait on a file lock; a build that died half-way is detected (no `BUILT`
marker) and redone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from gorilla_rlaif.errors import GorillaRlaifError

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LOCK_FILE = HERE / "apibench-env.lock"
BUILT = "BUILT.json"


class EnvironmentBuildError(GorillaRlaifError):
    """The execution environment could not be installed; the message carries pip's last lines."""


def cache_root() -> Path:
    """Where gorilla-rlaif keeps what it builds once per machine (`GORILLA_RLAIF_CACHE`, else
    `$XDG_CACHE_HOME/gorilla-rlaif`, else `~/.cache/gorilla-rlaif`)."""
    root = os.environ.get("GORILLA_RLAIF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gorilla-rlaif"
    )
    return Path(root)


def lock_hash(lock: Path = LOCK_FILE) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def env_dir(lock: Path = LOCK_FILE) -> Path:
    return cache_root() / "apibench-env" / lock_hash(lock)[:12]


def site_packages(env: Path) -> Path:
    return env / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def python(env: Path) -> Path:
    return env / "bin" / "python"


def built_info(env: Path) -> dict | None:
    """The build record of `env`, or None when it is not (completely) built."""
    try:
        return json.loads((env / BUILT).read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock held while building, so two processes never build the same thing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _base_python() -> str:
    """The interpreter the sandboxes run (the base of this virtualenv, not its wrapper)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _pip(env: Path, *args: str, log_file: Path) -> None:
    cmd = [str(python(env)), "-m", "pip", "--disable-pip-version-check", *args]
    with open(log_file, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PIP_NO_INPUT": "1"}
        )
    if proc.returncode:
        lines = [
            x for x in log_file.read_text(errors="replace").splitlines(keepends=True) if "is ignored" not in x
        ]
        tail = "".join(lines[-15:])
        raise EnvironmentBuildError(
            f"pip {args[0]} failed (exit {proc.returncode}); full log {log_file}:\n{tail}"
        )


def waivers(lock: Path = LOCK_FILE) -> list[tuple[str, str]]:
    """`(package, requirement)` pairs `pip check` may report: the lock's `# pip-check-waive:`
    lines, each saying why the requirement is met another way."""
    found = []
    for line in lock.read_text().splitlines():
        if line.startswith("# pip-check-waive:"):
            words = line.split(":", 1)[1].split(":", 1)[0].split()
            if len(words) == 3 and words[1] == "requires":
                found.append((words[0].lower(), words[2].lower()))
    return found


def unwaived(report: str, allowed: list[tuple[str, str]]) -> list[str]:
    """The lines of a `pip check` report that no waiver covers (pip words a missing requirement
    "X requires Y, which is not installed" and a version outside the range "X has requirement
    Y<2, but you have Y 2")."""
    return [
        line
        for line in report.splitlines()
        if line.strip()
        and "no broken requirements" not in line.lower()
        and not any(
            line.lower().startswith(package + " ")
            and (
                f"requires {requirement}," in line.lower() or f"has requirement {requirement}" in line.lower()
            )
            for package, requirement in allowed
        )
    ]


def _check(env: Path, lock: Path, log_file: Path) -> None:
    """`pip check`, failing on any broken requirement the lock does not waive."""
    proc = subprocess.run(
        [str(python(env)), "-m", "pip", "--disable-pip-version-check", "check"],
        capture_output=True,
        text=True,
    )
    with open(log_file, "a") as out:
        out.write(f"\n$ pip check\n{proc.stdout}{proc.stderr}")
    broken = unwaived(proc.stdout, waivers(lock))
    if broken or (proc.returncode and not proc.stdout.strip()):
        raise EnvironmentBuildError(
            "pip check found broken requirements the lock does not waive; full log "
            f"{log_file}:\n" + "\n".join(broken or [proc.stderr.strip()])
        )


def du_bytes(path: Path) -> int:
    """Bytes on disk under `path`, each file once (the stand-ins hard-link shared templates)."""
    total, seen = 0, set()
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                stat = os.lstat(os.path.join(root, name))
                if (stat.st_dev, stat.st_ino) not in seen:
                    seen.add((stat.st_dev, stat.st_ino))
                    total += stat.st_size
    return total


def ensure_env(lock: Path = LOCK_FILE) -> Path:
    """The execution environment for `lock`, built on first use (≈3 GB of wheels, a few minutes)."""
    env = env_dir(lock)
    if built_info(env) is not None:
        return env
    with file_lock(env.with_name(env.name + ".lock")):
        if built_info(env) is not None:  # another process finished it while we waited
            return env
        if env.exists():
            log.warning("removing an incomplete execution environment at %s", env)
            shutil.rmtree(env)
        log.warning(
            "building the APIBench execution environment in %s (once per lock file; downloads the "
            "pinned wheels, ~7 GB installed, a few minutes)",
            env,
        )
        start = time.monotonic()
        env.parent.mkdir(parents=True, exist_ok=True)
        log_file = env.with_name(env.name + ".build.log")
        log_file.write_text("")
        subprocess.run([_base_python(), "-m", "venv", str(env)], check=True)
        _pip(env, "install", "-q", "--no-deps", "-r", str(lock), log_file=log_file)
        _check(env, lock, log_file)
        info = {
            "lock_sha256": lock_hash(lock),
            "python": sys.version.split()[0],
            "build_s": round(time.monotonic() - start, 1),
            "size_bytes": du_bytes(env),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (env / BUILT).write_text(json.dumps(info, indent=1))
        log.warning(
            "execution environment ready in %.0f s (%.1f GB): %s",
            info["build_s"],
            info["size_bytes"] / 1e9,
            env,
        )
    return env


def locked_versions(lock: Path = LOCK_FILE) -> dict[str, str]:
    """`{package: version}` of the lock file (what every artifact records about the sandbox)."""
    versions = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            versions[name.strip().lower()] = version.strip()
    return versions

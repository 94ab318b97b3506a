"""The world APIBench code runs against, swappable under the one sandbox call.

- The execution environment (`env.py`, `apibench-env.lock`): the libraries answers import, at
  the versions of their era, mounted into every sandbox.
- The offline stand-in world (the default): for every API of each hub's database (and every id
  APIBench's own answers load) a stand-in of the kind the code asks for, built once per machine:
  tiny random Hugging Face models of the right architecture with working tokenizers/processors
  (`huggingface.py` + `standins_hf.py`), tiny TF Hub SavedModels (`tfhub.py` +
  `standins_tfhub.py`), torch.hub repositories (`torchhub.py` + `standins_torchhub.py`). An id
  that is not in the world (a made-up one) fails to load, as a `hub_error`.
- Sample inputs (`inputs/`) and the offline web (`sandbox_site.py`, which runs in the sandbox).
- Online (`SandboxConfig(network=True)`): the same environment and inputs, the real hubs and web,
  and a download cache instead of the stand-ins.

Each part of the world is built by its builder script under the execution environment's Python
(the builders need the era's libraries: transformers 4.x classes, TensorFlow SavedModels), into a
directory named by the hash of everything that determines it (lock file, builder and planner
sources, the plan), so a change rebuilds exactly the part it concerns.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from gorilla_rlaif.harness.world.env import (
    HERE,
    EnvironmentBuildError,
    cache_root,
    du_bytes,
    ensure_env,
    file_lock,
    lock_hash,
    python,
)

log = logging.getLogger(__name__)

INPUTS_DIR = HERE / "inputs"
SANDBOX_SITE = HERE / "sandbox_site.py"
BUILT = "BUILT.json"

# What a worker imports once before forking per snippet, by the snippet's framework.
PRELOAD_PROFILES: dict[str, tuple[str, ...]] = {
    "torch": ("torch", "transformers", "transformers.pipelines", "requests", "PIL.Image", "numpy"),
    "tensorflow": ("tensorflow", "tensorflow_hub", "requests", "PIL.Image", "numpy"),
}
_TF_IMPORT = re.compile(r"^\s*(?:import|from)\s+(?:tensorflow|tensorflow_hub|keras|tf_keras)\b", re.M)


def preload_profile(code: str) -> str:
    """The worker kind a snippet runs on: 'tensorflow' when it imports TensorFlow, else 'torch'."""
    return "tensorflow" if _TF_IMPORT.search(code) else "torch"


@dataclass(frozen=True)
class Part:
    """One hub's stand-ins: a host-side planner (what to build, from the API database and the
    records) and a builder script run by the execution environment's interpreter."""

    name: str
    module: str  # host module with `plan() -> list[dict]`
    builder: str  # script beside this file: `python BUILDER --plan PLAN.json --out DIR`
    mounts: tuple[str, ...]  # subdirectories of DIR, each mounted at /cache/<name>
    helpers: tuple[str, ...] = ()  # modules beside this file the builder imports (hashed with it)


PARTS: dict[str, Part] = {
    "huggingface": Part(
        "huggingface",
        "huggingface",
        "standins_hf.py",
        ("huggingface", "sentence_transformers", "flair"),
        helpers=(
            "standins_speechbrain.py",
            "standins_pyannote.py",
            "standins_libs.py",
            "standins_datasets.py",
        ),
    ),
    "tfhub": Part("tfhub", "tfhub", "standins_tfhub.py", ("tfhub",)),
    "torchhub": Part("torchhub", "torchhub", "standins_torchhub.py", ("torch",)),
}


WORLD_HOST_DIR = HERE  # mounted read-only in the sandbox: sandbox_site.py and inputs/


@dataclass
class World:
    """Where the sandbox finds the world: host directories to mount at /cache/<name> (the
    stand-ins), or one directory mounted at /cache (`cache`: a user's model cache, or the download
    cache when online); `info` (parts, hashes, sizes) goes into provenance."""

    mounts: dict[str, Path] = field(default_factory=dict)
    cache: Path | None = None
    online: bool = False
    info: dict = field(default_factory=dict)


def _sha(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(hashlib.sha256(chunk).digest())
    return digest.hexdigest()


def part_plan(part: Part) -> list[dict]:
    return importlib.import_module(f"gorilla_rlaif.harness.world.{part.module}").plan()


def part_dir(part: Part, plan: list[dict]) -> Path:
    """Named by what determines the build: the environment, the builder and the plan (the planner
    matters only through the plan it writes, so refactoring a planner rebuilds nothing)."""
    digest = _sha(
        lock_hash().encode(),
        *((HERE / name).read_bytes() for name in (part.builder, *part.helpers)),
        json.dumps(plan, sort_keys=True).encode(),
    )
    return cache_root() / "apibench-world" / f"{part.name}-{digest[:12]}"


def built_part(directory: Path) -> dict | None:
    try:
        return json.loads((directory / BUILT).read_text())
    except (OSError, ValueError):
        return None


def ensure_part(part: Part) -> tuple[Path, dict]:
    """Build `part` unless a build for exactly these inputs exists; return its directory and record."""
    plan = part_plan(part)
    directory = part_dir(part, plan)
    info = built_part(directory)
    if info is not None:
        return directory, info
    env = ensure_env()
    with file_lock(directory.with_name(directory.name + ".lock")):
        info = built_part(directory)
        if info is not None:
            return directory, info
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "plan.json").write_text(json.dumps(plan))
        log.warning("building the %s stand-ins (%d items) in %s", part.name, len(plan), directory)
        start = time.monotonic()
        cmd = [
            str(python(env)),
            str(HERE / part.builder),
            "--plan",
            str(tmp / "plan.json"),
            "--out",
            str(tmp),
        ]
        with open(tmp / "build.log", "w") as out:  # libraries print to stdout; progress stays on stderr
            proc = subprocess.run(cmd, env=_builder_env(tmp), stdout=out)
        if proc.returncode:
            raise EnvironmentBuildError(
                f"the {part.name} stand-in builder failed (exit {proc.returncode}): {cmd}"
            )
        report = json.loads((tmp / "report.json").read_text()) if (tmp / "report.json").exists() else {}
        info = {
            "part": part.name,
            "dir": directory.name,
            "items": len(plan),
            "built": report.get("built"),
            "failed": report.get("failed"),
            "build_s": round(time.monotonic() - start, 1),
            "size_bytes": du_bytes(tmp),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _make_readable(tmp)
        (tmp / BUILT).write_text(json.dumps(info, indent=1))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)
        log.warning(
            "%s stand-ins ready in %.0f s (%.0f MB)", part.name, info["build_s"], info["size_bytes"] / 1e6
        )
    return directory, info


def _builder_env(out: Path) -> dict[str, str]:
    """Builders run offline with their caches inside their own output (nothing else is touched)."""
    import os

    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TERM", "COLUMNS")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(out / "huggingface"),
        TORCH_HOME=str(out / "torch"),
        TFHUB_CACHE_DIR=str(out / "tfhub"),
        SENTENCE_TRANSFORMERS_HOME=str(out / "sentence_transformers"),
        FLAIR_CACHE_ROOT=str(out / "flair"),
        TF_CPP_MIN_LOG_LEVEL="2",
        TOKENIZERS_PARALLELISM="false",
        PYTHONHASHSEED="0",
        OMP_NUM_THREADS="1",
    )
    return env


def _make_readable(root: Path) -> None:
    """Sandboxes run under uids of their own: every directory 0755, every file 0644."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


_WORLDS: dict[tuple[str, ...], World] = {}


def prune(parts: tuple[str, ...] = tuple(PARTS)) -> list[tuple[Path, int]]:
    """Delete the builds of the environment and of `parts` that this version does not use
    (an upgrade changes the lock or a builder, and every build is 0.01-7 GB), and return them with
    their sizes. Each is removed under its build lock, so a build in progress is waited for; a
    checkout of another version that still uses one rebuilds it on its next run."""
    from gorilla_rlaif.harness.world.env import env_dir

    keep = {env_dir()}
    keep |= {part_dir(PARTS[name], part_plan(PARTS[name])) for name in parts}
    candidates = sorted((cache_root() / "apibench-env").glob("*"))
    for name in parts:
        candidates += sorted((cache_root() / "apibench-world").glob(f"{name}-*"))
    removed = []
    for path in candidates:
        if not path.is_dir() or path in keep or path.suffix in (".lock", ".log"):
            continue
        base = path.with_suffix("") if path.suffix == ".tmp" else path
        with file_lock(base.with_name(base.name + ".lock")):
            size = du_bytes(path)
            shutil.rmtree(path)
        base.with_name(base.name + ".lock").unlink(missing_ok=True)
        removed.append((path, size))
    return removed


def fingerprint() -> str:
    """A digest of everything the offline world is built from (lock file, this package's code and
    sample inputs, the bundled APIBench files): what results record and resume keys include, so
    numbers from one world are never mixed with another's. Cheap: no plan is computed."""
    from gorilla_rlaif.data.sources import BUNDLED_DIR

    files = sorted(p for p in HERE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    files += sorted(p for p in Path(BUNDLED_DIR).iterdir() if p.is_file())
    return _sha(*(f"{p.name}\0".encode() + p.read_bytes() for p in files))


def ensure_world(parts: tuple[str, ...] = tuple(PARTS)) -> World:
    """The offline stand-in world (every part built on first use, then reused; resolved once per
    process)."""
    if parts in _WORLDS:
        return _WORLDS[parts]
    world = World()
    for name in parts:
        if not (HERE / PARTS[name].builder).exists():
            log.warning(
                "no builder for the %s stand-ins yet (%s): that hub's ids are not in the world",
                name,
                PARTS[name].builder,
            )
            continue
        directory, info = ensure_part(PARTS[name])
        for mount in PARTS[name].mounts:
            (directory / mount).mkdir(exist_ok=True)
            world.mounts[mount] = directory / mount
        world.info[name] = {"dir": directory.name, **{k: info.get(k) for k in ("items", "built", "failed")}}
    _WORLDS[parts] = world
    return world


def download_cache_dir() -> Path:
    """Where sandboxes download real models with --network (shared by all of them)."""
    return cache_root() / "sandbox-downloads"


def resolve_world(config) -> World | None:
    """The world a `SandboxConfig` asks for (None: `world='none'`, only `model_cache` if given)."""
    if config.world == "none":
        return None
    if config.network:
        return World(
            cache=Path(config.model_cache or download_cache_dir()), online=True, info={"mode": "online"}
        )
    if config.model_cache is not None:
        return World(
            cache=Path(config.model_cache), info={"mode": "offline", "model_cache": str(config.model_cache)}
        )
    world = ensure_world()
    return World(mounts=dict(world.mounts), info={"mode": "offline", "parts": world.info})


__all__ = [
    "PARTS",
    "PRELOAD_PROFILES",
    "WORLD_HOST_DIR",
    "World",
    "ensure_world",
    "preload_profile",
    "resolve_world",
]

"""Configuration of the executability sandbox, shared by `gorilla-bench exec`, eval and the pipeline."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from gorilla_rlaif.config import operational
from gorilla_rlaif.errors import ConfigError

HARNESS_DIR = Path(__file__).resolve().parent
DOCKERFILE = HARNESS_DIR / "Dockerfile"
RUNNER = HARNESS_DIR / "in_sandbox.py"
# What APIBench snippets import: `transformers.pipelines` pulls in most of transformers' own cost.
DEFAULT_PRELOAD = ("torch", "transformers", "transformers.pipelines")
LIBRARIES = ("apibench", "project")


def default_image() -> str:
    """`gorilla-rlaif-sandbox:<12 hex of sha256(Dockerfile)>`, what scripts/setup-sandbox.sh builds:
    changing the Dockerfile changes the tag, so a stale image is never used silently."""
    import hashlib

    return "gorilla-rlaif-sandbox:" + hashlib.sha256(DOCKERFILE.read_bytes()).hexdigest()[:12]


def default_site_packages() -> list[Path]:
    """The running virtualenv's site-packages: mounted read-only so the sandbox's Python 3.11
    imports the same torch/transformers as the project (offline, no image rebuild)."""
    import sysconfig

    return [Path(sysconfig.get_paths()["purelib"])]


class SandboxConfig(BaseModel):
    """How snippets run. Limits mean the same on both backends. Fields marked `operational`
    change how fast or where snippets run, not their results; the others key stored results."""

    # Parameters that choose the sandbox
    backend: Literal["local", "docker", "remote", "ray"] = Field(
        "docker",
        description="docker or local (a sandbox on this machine), remote (a `gorilla-bench serve` at `url`) "
        "or ray (a sandbox pool on every node of a Ray cluster)",
    )
    local_isolation: Literal["auto", "bwrap", "process"] = Field(
        "auto", description="local backend: bubblewrap if installed (auto), or a bare process (no isolation)"
    )
    container_reuse: bool = operational(
        True, description="docker: keep one warm container per worker, wiped between snippets"
    )
    image: str = Field(default_factory=default_image)
    docker_host: str | None = operational(
        None, description="Docker/Podman socket; default: DOCKER_HOST or the default socket"
    )

    # Parameters of the remote and ray backends (where snippets run, not how)
    url: str | None = operational(None, description="remote: the sandbox server's URL (gorilla-bench serve)")
    token_file: Path | None = operational(
        None, description="remote: file holding the server's bearer token (default: GORILLA_SANDBOX_TOKEN)"
    )
    remote_batch: int = operational(16, ge=1, le=4096, description="remote: snippets per request")
    retries: int = operational(
        6, ge=0, le=100, description="remote: tries again this often on a lost connection, 429 or 5xx"
    )
    ray_address: str | None = operational(
        None, description="ray: the cluster's address (host:port or 'auto'; default: a local Ray)"
    )
    node_backend: Literal["local", "docker"] = Field(
        "local", description="ray: the sandbox each node's actor runs snippets in"
    )
    workers_per_node: int | None = operational(
        None, ge=1, le=1024, description="ray: sandbox workers per node (default: the node's CPUs)"
    )

    # Parameters that control the limits of one snippet
    timeout_s: float = Field(30.0, gt=0, le=86400, description="wall-time limit, seconds (at most a day)")
    memory_mb: int = Field(2048, ge=64, description="address-space (rlimit) and container memory limit")
    max_procs: int = Field(64, ge=4, description="processes + threads the snippet may have at once")
    max_file_mb: int = Field(64, ge=1, description="largest file the snippet may write")
    max_output_kb: int = Field(64, ge=1, description="stdout and stderr are each truncated to this")
    network: bool = Field(
        False, description="allow network; the model cache becomes a download cache shared by sandboxes"
    )

    # Parameters that control what the sandbox sees
    libraries: str = Field(
        "apibench",
        description="the Python libraries snippets import: 'apibench' (the execution environment pinned "
        "by gorilla_rlaif/harness/world/apibench-env.lock, built on first use), 'project' (this "
        "virtualenv), or a site-packages directory",
    )
    world: Literal["apibench", "none"] = Field(
        "apibench",
        description="what snippets run against: 'apibench' = offline stand-ins for every API of the three "
        "hubs' databases, sample input files and the offline web (with network=True: the real hubs and "
        "web, and model_cache is a download cache); 'none' = only model_cache, if given",
    )
    model_cache: Path | None = Field(
        None,
        description="directory mounted at /cache (huggingface/ = HF_HOME, torch/ = TORCH_HOME, tfhub/, "
        "sentence_transformers/): replaces the world's stand-ins; with network=True a download cache "
        "(default: a directory of its own under the gorilla-rlaif cache)",
    )
    site_packages: list[Path] | None = Field(
        None, description="explicit site-packages directories to mount (overrides `libraries`)"
    )
    mount_site_packages: bool = Field(True, description="off when the image has its own libraries")
    env: dict[str, str] = Field(
        default_factory=dict, description="extra variables for the snippet (never inherited)"
    )

    # Parameters that control throughput
    workers: int = operational(default_factory=lambda: os.cpu_count() or 1, ge=1, le=1024)
    preload: bool = operational(
        True,
        description="each worker runs a fork server that imports preload_modules once and forks a "
        "fresh child per snippet (False: a new interpreter per snippet, 'one-shot')",
    )
    preload_modules: list[str] | None = operational(
        None,
        description="modules the fork server imports (those not importable are skipped); None: by "
        "what each snippet imports (TensorFlow snippets get a TensorFlow worker, the others torch + "
        "transformers: gorilla_rlaif.harness.world.PRELOAD_PROFILES)",
    )

    @model_validator(mode="after")
    def _check(self) -> SandboxConfig:
        if self.backend == "ray":
            return self  # each node's actor checks its own sandbox (SandboxNode) against its machine
        if self.backend == "remote":
            # the server's sandbox is the server's business: nothing of this machine is checked
            if not self.url:
                raise ConfigError("backend 'remote' needs url=http://HOST:PORT (a gorilla-bench serve)")
            if not self.url.startswith(("http://", "https://")):
                raise ConfigError(f"url {self.url!r}: expected http://HOST:PORT or https://...")
            return self
        # With the network on, the cache is a download cache: created on first use.
        if self.model_cache is not None and not self.network and not Path(self.model_cache).is_dir():
            raise ConfigError(
                f"model_cache {self.model_cache} is not a directory (a model cache, e.g. a --network download cache)"
            )
        if self.mount_site_packages:
            if sys.version_info[:2] != (3, 11):
                raise ConfigError(
                    "mount_site_packages needs Python 3.11 (the sandbox image's Python); "
                    "use an image with its own libraries and mount_site_packages=False"
                )
            for path in self.site_packages or []:
                if not Path(path).is_dir():
                    raise ConfigError(f"site_packages entry {path} is not a directory")
            if (
                self.site_packages is None
                and self.libraries not in LIBRARIES
                and not Path(self.libraries).is_dir()
            ):
                raise ConfigError(
                    f"libraries={self.libraries!r}: expected 'apibench', 'project' or a site-packages directory"
                )
        return self

    def library_dirs(self) -> list[Path]:
        """The site-packages directories the sandbox mounts (builds the execution environment on
        first use when `libraries='apibench'`)."""
        if not self.mount_site_packages:
            return []
        if self.site_packages is not None:
            return [Path(p) for p in self.site_packages]
        if self.libraries == "project":
            return default_site_packages()
        if self.libraries == "apibench":
            from gorilla_rlaif.harness.world.env import ensure_env, site_packages

            return [site_packages(ensure_env())]
        return [Path(self.libraries)]


def sandbox_by_name(value: Any) -> Any:
    """A config field's value for a `SandboxConfig | None`: `local` is short for `{backend:
    local}`; `none` (or `{backend: none}`) is None, which runs no code. For `mode="before"`
    validators of the configs that embed a sandbox (eval, the judge report)."""
    if isinstance(value, str):
        value = {"backend": value}
    if isinstance(value, dict) and value.get("backend") == "none":
        extra = sorted(set(value) - {"backend"})
        if extra:
            raise ValueError(f"sandbox=none runs no code: sandbox.{extra[0]} has no effect")
        return None
    return value


def sandbox_env(config: SandboxConfig, marker: str) -> dict[str, str]:
    """The snippet's whole environment, built from nothing: the parent's variables (API keys,
    tokens) never reach it. Hubs run offline unless the network is allowed."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        # not the working directory: libraries keep dot-dirs in HOME (~/.keras, ~/.cache), and the
        # snippet's working directory should hold only what the snippet itself writes
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "XDG_CACHE_HOME": "/tmp/.cache",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HOME": "/cache/huggingface",
        "TORCH_HOME": "/cache/torch",
        "TFHUB_CACHE_DIR": "/cache/tfhub",
        "SENTENCE_TRANSFORMERS_HOME": "/cache/sentence_transformers",
        "FLAIR_CACHE_ROOT": "/cache/flair",
        # asteroid's `from_pretrained("org/name")` reads the legacy `cached_download` layout from
        # here (the Hugging Face cache holds it); its default is ~/.cache/torch/asteroid
        "ASTEROID_CACHE": "/cache/huggingface/hub",
        # datasets and remote code write beside what they read (locks, `map` caches, modules): a
        # writable cache in HOME; the world's prepared datasets are linked into it per snippet
        "HF_DATASETS_CACHE": "/tmp/.cache/huggingface/datasets",
        "HF_MODULES_CACHE": "/tmp/.cache/huggingface/modules",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "GORILLA_SANDBOX_RUN": marker,
    }
    if not config.network:
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env.update(config.env)
    return env

"""What made an artifact: config, package versions, input hashes, time, git commit.

Every artifact the toolkit writes (splits, tiny models, datasets, checkpoints, results) embeds
this record, so a number can always be traced back to the exact inputs and code that produced it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from gorilla_rlaif import __version__

TRACKED_PACKAGES = (
    "torch",
    "transformers",
    "trl",
    "accelerate",
    "datasets",
    "huggingface_hub",
    "tokenizers",
    "openai",
    "pydantic",
    "docker",
    "codebleu",
    "tree-sitter",
    "tree-sitter-python",
    "rouge_score",
)


def package_versions(packages: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions, read from metadata (no imports, so this costs milliseconds)."""
    out: dict[str, str | None] = {"python": platform.python_version(), "gorilla_rlaif": __version__}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: str | Path | None = None) -> str | None:
    """The commit of the toolkit checkout, when it runs from one (None for an installed wheel)."""
    here = Path(path) if path else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short hash of a JSON-able object, independent of dict order. Used as cache keys."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:length]


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def provenance(config: Any = None, inputs: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The provenance block stored with an artifact.

    `config` may be a pydantic model, a dataclass or a dict; `inputs` maps a name to a file hash
    (or any description of an input: a dataset id and revision, a model path and its hash).
    """
    if hasattr(config, "model_dump"):
        config = config.model_dump(mode="json")
    elif hasattr(config, "__dataclass_fields__"):
        import dataclasses

        config = dataclasses.asdict(config)
    record: dict[str, Any] = {
        "toolkit": "gorilla-rlaif",
        "toolkit_version": __version__,
        "git_commit": git_commit(),
        "created_at": utc_now(),
        "versions": package_versions(),
    }
    if config is not None:
        record["config"] = config
    if inputs:
        record["inputs"] = inputs
    record.update(extra)
    return record

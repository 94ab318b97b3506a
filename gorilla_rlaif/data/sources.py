"""Where APIBench files come from: a local directory, the Hub, or the copy bundled with the package.

Precedence (first that applies wins):
1. an explicit local directory (`data_dir=` / `--data-dir`): a missing file there is an error;
2. the Hub dataset `gorilla-llm/APIBench` through `huggingface_hub` (cached under HF_HOME, so it
   downloads once; skipped when `HF_HUB_OFFLINE=1` and nothing is cached);
3. the bundled copy in `gorilla_rlaif/data/apibench/` (gzip; every file except the two large
   train files `huggingface_train.json` and `tensorflow_train.json`).

`source=` forces one of them. The resolved source and the file's SHA-256 go into every artifact's
provenance, so two runs that read different bytes can be told apart.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from gorilla_rlaif.data.schema import HUBS, Hub
from gorilla_rlaif.errors import DataError

log = logging.getLogger(__name__)

HUB_REPO = "gorilla-llm/APIBench"
# The Hub dataset's only data commit ("Upload 9 files", 2023-05-29). Pinned so results are
# reproducible; pass revision="main" to follow the repository.
HUB_REVISION = "ac21e1892e634dfa25f8ad75f16cbdbfb0a5736d"
BUNDLED_DIR = Path(__file__).resolve().parent / "apibench"

Source = Literal["auto", "local", "hub", "bundled"]
FileKind = Literal["train", "eval", "api"]

FILE_NAMES: dict[Hub, dict[FileKind, str]] = {
    "huggingface": {
        "train": "huggingface_train.json",
        "eval": "huggingface_eval.json",
        "api": "huggingface_api.jsonl",
    },
    "tensorflowhub": {
        "train": "tensorflow_train.json",
        "eval": "tensorflow_eval.json",
        "api": "tensorflowhub_api.jsonl",
    },
    "torchhub": {
        "train": "torchhub_train.json",
        "eval": "torchhub_eval.json",
        "api": "torchhub_api.jsonl",
    },
}

HUB_ALIASES = {
    "hf": "huggingface",
    "tensorflow": "tensorflowhub",
    "tf": "tensorflowhub",
    "th": "torchhub",
    "torch": "torchhub",
    "pytorch": "torchhub",
}


def normalize_hub(name: str) -> Hub:
    """Accept the canonical names and common aliases (`hf`, `tf`, `torch`), with a clear error."""
    key = name.strip().lower()
    key = HUB_ALIASES.get(key, key)
    if key not in HUBS:
        raise DataError(f"unknown hub {name!r}; choose one of {', '.join(HUBS)}")
    return key  # type: ignore[return-value]


def _hub_name(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return normalize_hub(value)
        except DataError as exc:
            raise ValueError(exc.reason) from None
    return value


# A config field holding a hub: aliases accepted, the canonical name kept.
HubName = Annotated[Hub, BeforeValidator(_hub_name)]


@dataclass(frozen=True)
class ResolvedFile:
    path: Path
    source: Literal["local", "hub", "bundled"]
    name: str

    def describe(self) -> dict[str, str]:
        from gorilla_rlaif.io import sha256_file

        return {
            "file": self.name,
            "source": self.source,
            "path": str(self.path),
            "sha256": sha256_file(self.path),
        }


def _local(data_dir: Path, name: str) -> Path | None:
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


_HUB_REACHABLE: bool | None = None


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP check per process before the first download.

    Without it, an offline machine spends ~23 s per file in huggingface_hub's retry loop before
    falling back to the bundle (measured). Cached files still win: `hf_hub_download` is tried
    with `local_files_only=True` first, which needs no network.
    """
    global _HUB_REACHABLE
    if _HUB_REACHABLE is None:
        import socket
        from urllib.parse import urlparse

        from huggingface_hub import constants

        url = urlparse(constants.ENDPOINT)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            with socket.create_connection((url.hostname, port), timeout=timeout):
                _HUB_REACHABLE = True
        except OSError as exc:
            log.warning(
                "the Hub (%s) is not reachable (%s); using local or bundled APIBench files", url.hostname, exc
            )
            _HUB_REACHABLE = False
    return _HUB_REACHABLE


def _from_hub(name: str, revision: str) -> Path | None:
    from huggingface_hub import hf_hub_download

    try:
        return Path(
            hf_hub_download(HUB_REPO, name, repo_type="dataset", revision=revision, local_files_only=True)
        )
    except Exception:
        pass
    if not _hub_reachable():
        return None
    try:
        return Path(hf_hub_download(HUB_REPO, name, repo_type="dataset", revision=revision))
    except Exception as exc:  # offline, no cache, auth, 404: fall through to the next source
        log.debug("hub download of %s failed: %s", name, exc)
        return None


def resolve_file(
    hub: str,
    kind: FileKind,
    *,
    data_dir: str | Path | None = None,
    source: Source = "auto",
    revision: str = HUB_REVISION,
) -> ResolvedFile:
    """Find one APIBench file following the precedence above."""
    hub = normalize_hub(hub)
    name = FILE_NAMES[hub][kind]
    if data_dir is not None or source == "local":
        if data_dir is None:
            raise DataError("source='local' needs data_dir")
        path = _local(Path(data_dir), name)
        if path is None:
            raise DataError(f"{name} (or {name}.gz) not found in the data directory", path=data_dir)
        return ResolvedFile(path, "local", name)
    if source in ("auto", "hub") and not (source == "auto" and _offline()):
        path = _from_hub(name, revision)
        if path is not None:
            return ResolvedFile(path, "hub", name)
        if source == "hub":
            raise DataError(f"could not download {name} from the Hub dataset {HUB_REPO}@{revision}")
    path = _local(BUNDLED_DIR, name)
    if path is None:
        raise DataError(
            f"{name} is not bundled with gorilla-rlaif (too large) and the Hub dataset {HUB_REPO} "
            "could not be reached: run online once (it is then cached), or pass --data-dir with a "
            "local copy of the file"
        )
    if source == "auto":
        log.debug("using the bundled copy of %s", name)
    return ResolvedFile(path, "bundled", name)


def _offline() -> bool:
    """True when the user said the Hub is unreachable: then auto goes straight to the bundle.

    With nothing set, auto tries the Hub first (a cached or downloaded file wins over the bundle).
    """
    value = os.environ.get("HF_HUB_OFFLINE", "") or os.environ.get("GORILLA_RLAIF_OFFLINE", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def available(hub: str, kind: FileKind, data_dir: str | Path | None = None) -> bool:
    """Whether a file can be found without touching the network (local dir or bundle)."""
    name = FILE_NAMES[normalize_hub(hub)][kind]
    if data_dir is not None:
        return _local(Path(data_dir), name) is not None
    return _local(BUNDLED_DIR, name) is not None

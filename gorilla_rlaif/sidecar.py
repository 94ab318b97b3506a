"""Sidecars: the JSON record of how an artifact was made (config, versions, input hashes), with one
naming rule for every artifact the toolkit writes:

    a file       DIR/NAME.jsonl      ->  DIR/NAME.meta.json
    a directory  DIR/ (a model, a dataset, splits)  ->  DIR/gorilla_rlaif.meta.json

Artifacts made before the rule keep working: their older sidecar names are still read
(`LEGACY_NAMES`), never written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import ConfigError, DataError

DIRECTORY_SIDECAR = "gorilla_rlaif.meta.json"
SUFFIX = ".meta.json"
# names used before the rule: read as a fallback
LEGACY_NAMES = ("gorilla_rlaif_train.json", "gorilla_rlaif_tiny.json", "provenance.json", "manifest.json")


def sidecar_path(artifact: str | Path, *, directory: bool | None = None) -> Path:
    """Where the record of `artifact` lives. A path that is an existing directory, or has no
    suffix, is a directory artifact unless `directory` says otherwise."""
    artifact = Path(artifact)
    if directory is None:
        directory = artifact.is_dir() or (not artifact.exists() and not artifact.suffix)
    if directory:
        return artifact / DIRECTORY_SIDECAR
    return artifact.with_name(artifact.name.removesuffix(artifact.suffix) + SUFFIX)


def write_sidecar(artifact: str | Path, record: dict[str, Any], *, directory: bool | None = None) -> Path:
    from gorilla_rlaif.io import write_json

    path = sidecar_path(artifact, directory=directory)
    write_json(path, record)
    return path


def find_sidecar(artifact: str | Path) -> Path | None:
    """The sidecar file of `artifact` that exists (the rule's name first, then older names)."""
    path = sidecar_path(artifact)
    if path.is_file():
        return path
    artifact = Path(artifact)
    if artifact.is_dir():
        for name in LEGACY_NAMES:
            if (artifact / name).is_file():
                return artifact / name
    return None


def read_sidecar(artifact: str | Path) -> dict[str, Any] | None:
    """The record of `artifact`, or None when it has none."""
    path = find_sidecar(artifact)
    if path is None:
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"unreadable record of how this was made ({type(exc).__name__})", path=path) from None
    if not isinstance(record, dict):
        raise DataError("expected a JSON object", path=path)
    return record


def check_outputs(inputs: dict[str, str | Path], outputs: dict[str, str | Path], *, stage: str) -> None:
    """Refuse an output that is one of the inputs, or an existing file another stage made (its
    sidecar says so): appending to it would mix rows of two kinds."""
    for out_name, out in outputs.items():
        out = Path(out)
        for in_name, source in inputs.items():
            if out.exists() and Path(source).exists() and out.resolve() == Path(source).resolve():
                raise ConfigError(
                    f"--{out_name} {out} is the input ({in_name}): write the {stage} output elsewhere"
                )
        if out.is_file() and out.stat().st_size:
            meta = read_sidecar(out)
            made_by = (meta or {}).get("stage")
            if made_by != stage:
                kind = "candidates" if stage == "generate" else stage
                what = f"made by `{made_by}`" if made_by else f"has no {sidecar_path(out).name}"
                raise ConfigError(
                    f"{out} exists and is not a {kind} file ({what}): use a new --{out_name}, or delete it"
                )

"""Training data: published preference datasets and APIBench prompts, checked before training.

Preference data is whatever `datasets.load_dataset(path, name, revision=...)` returns for a local
Hub-layout directory or a Hub repo (the format `gorilla-rlaif preferences` publishes). We check
the splits and columns a trainer needs up front and fail with one message that names the dataset,
config, split, the missing column and the columns that are there: TRL would otherwise fail deep
inside `map` after the models are loaded. Every loader also returns what the run's provenance
records about its input (id, config, revision, file hashes, row counts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import ConfigError, DataError
from gorilla_rlaif.io import sha256_file
from gorilla_rlaif.train.config import ApiBenchPrompts, PreferenceData

log = logging.getLogger(__name__)

# Columns each use of a published dataset needs (extra columns are kept or dropped by the trainer).
PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected")
BINARY_COLUMNS = ("prompt", "completion", "label")


@dataclass
class TrainData:
    """A train split, an optional held-out split, and the provenance of both."""

    train: Any
    test: Any | None
    provenance: dict[str, Any] = field(default_factory=dict)
    records: dict[str, list] = field(default_factory=dict)


def _local_files_hash(directory: Path) -> dict[str, str]:
    """sha256 of every data file of a local dataset dir (what exactly was trained on)."""
    out: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts):
            out[str(path.relative_to(directory))] = sha256_file(path)
    return out


def load_preference_data(spec: PreferenceData, columns: tuple[str, ...]) -> TrainData:
    """Load `spec` and check that its train (and test) split has `columns`.

    Raises `ConfigError` when no dataset is given and `DataError` (naming dataset, config and split)
    when a split or column is missing or a split is empty.
    """
    if not spec.path:
        raise ConfigError(
            "no dataset given: set dataset.path=DIR_OR_HUB_ID (e.g. the output of `gorilla-rlaif preferences`)"
        )
    import datasets

    local = Path(spec.path).expanduser()
    where = f"dataset {spec.path!r} (config {spec.name!r})"
    if local.exists() and not local.is_dir():
        raise DataError("expected a dataset directory (Hub layout with README.md), got a file", path=local)
    if local.is_dir() and spec.revision:
        log.warning("%s is a local directory: revision %r is recorded but not used", spec.path, spec.revision)
    try:
        loaded = datasets.load_dataset(
            str(local) if local.is_dir() else spec.path, spec.name, revision=spec.revision
        )
    except ValueError as exc:  # unknown config name, bad split spec: datasets says which
        raise DataError(f"cannot load {where}: {exc}") from None
    except FileNotFoundError as exc:
        raise DataError(f"cannot load {where}: {exc}") from None
    except Exception as exc:  # network / Hub errors: keep their message, add ours
        raise DataError(f"cannot load {where}: {type(exc).__name__}: {exc}") from None

    splits = {"train": spec.train_split}
    if spec.test_split:
        splits["test"] = spec.test_split
    out: dict[str, Any] = {}
    for role, split in splits.items():
        if split not in loaded:
            raise DataError(f"{where} has no split {split!r} (splits: {', '.join(loaded)})")
        ds = loaded[split]
        missing = [c for c in columns if c not in ds.column_names]
        if missing:
            raise DataError(
                f"{where}, split {split!r}: missing column(s) {', '.join(map(repr, missing))} "
                f"(columns: {', '.join(ds.column_names)})"
            )
        if len(ds) == 0:
            raise DataError(f"{where}, split {split!r} is empty")
        limit = spec.max_train_samples if role == "train" else spec.max_test_samples
        if limit is not None and len(ds) > limit:
            ds = ds.select(range(limit))
        out[role] = ds

    provenance: dict[str, Any] = {
        "kind": "preference_dataset",
        "path": spec.path,
        "config": spec.name,
        "revision": spec.revision,
        "splits": {role: {"split": splits[role], "rows": len(ds)} for role, ds in out.items()},
        "fingerprints": {role: ds._fingerprint for role, ds in out.items()},
    }
    if local.is_dir():
        provenance["files_sha256"] = _local_files_hash(local)
    elif out["train"].cache_files:  # a Hub dataset: the cache path names the resolved commit
        provenance["cache_dir"] = str(Path(out["train"].cache_files[0]["filename"]).parent)
    return TrainData(train=out["train"], test=out.get("test"), provenance=provenance)


def load_apibench_prompts(spec: ApiBenchPrompts, *, with_targets: bool) -> TrainData:
    """APIBench records of `spec.stage` as a `datasets.Dataset` (+ test records for the report).

    Rows: `id`, `hub`, `question_id`, `prompt` and, with `with_targets`, `completion` (the gold
    answer, for SFT). Records without a parsed output are skipped for SFT targets (counted).
    """
    from datasets import Dataset

    from gorilla_rlaif.data import build_prompt, make_splits, sft_example

    splits = make_splits(spec.split)
    records = [r for r in splits[spec.stage] if r.instruction]
    if with_targets:
        records = [r for r in records if r.output is not None]
    if spec.max_samples is not None:
        records = records[: spec.max_samples]
    if not records:
        raise DataError(f"APIBench {spec.split.hub} stage {spec.stage!r} has no usable records")
    rows = []
    for r in records:
        row = {"id": r.id, "hub": r.hub, "question_id": r.question_id}
        if with_targets:
            row.update(sft_example(r))
        else:
            row["prompt"] = build_prompt(r.instruction, r.input)
        rows.append(row)
    test_records = [r for r in splits["test"] if r.output is not None][: spec.eval_samples]
    provenance = {
        "kind": "apibench",
        "hub": spec.split.hub,
        "stage": spec.stage,
        "rows": len(rows),
        "split_hash": splits.manifest.get("split_hash"),
        "inputs": splits.manifest.get("inputs"),
        "eval_records": len(test_records),
    }
    test = (
        Dataset.from_list([sft_example(r) for r in test_records]) if with_targets and test_records else None
    )
    return TrainData(
        train=Dataset.from_list(rows),
        test=test,
        provenance=provenance,
        records={"train": records, "test": test_records},
    )

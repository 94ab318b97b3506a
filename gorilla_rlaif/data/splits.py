"""Deterministic, seeded splits of APIBench into the stages of the method.

Stages: `sft` (supervised fine-tuning), `rm` (prompts whose sampled candidates the judge labels:
the reward-model / preference data), `rl` (prompts for PPO / GRPO), `test` (evaluation).

Choices (documented in the README's data section):
- `test` is the hub's eval file by default, so our numbers sit next to Gorilla's (same records,
  same question ids). The train file is split into sft/rm/rl by `fractions`.
- When a hub has no train file available (offline: HuggingFace and TensorFlow Hub, whose train
  files are on the Hub only), `test` becomes a seeded hold-out of the eval file and the rest is
  split as above. Test APIs may then be unseen in training; `api_db_examples` (default on in that
  case) adds one SFT example per API of the documentation database (description -> api_call), as
  Gorilla's own training data was built from API documentation.
- No instruction is in two splits: records are grouped by normalised instruction text before
  assignment, and train records whose instruction also appears in the test set are dropped
  (counted in the manifest).
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from gorilla_rlaif.data.load import ApiDatabase, load_api_db, load_records
from gorilla_rlaif.data.schema import ApiBenchRecord, ApiEntry, ParsedOutput
from gorilla_rlaif.data.sources import HubName, Source, available
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.io import read_jsonl, write_jsonl
from gorilla_rlaif.provenance import provenance, stable_hash
from gorilla_rlaif.sidecar import read_sidecar, write_sidecar

log = logging.getLogger(__name__)

STAGES = ("sft", "rm", "rl", "test")


class SplitConfig(BaseModel):
    """How to split one hub. Parameters that control the split:"""

    hub: HubName = Field("torchhub", description="APIBench hub (aliases: hf, tf, torch)")
    seed: int = 0
    fractions: dict[Literal["sft", "rm", "rl"], float] = Field(
        default_factory=lambda: {"sft": 0.6, "rm": 0.2, "rl": 0.2},
        description="shares of the training pool for sft/rm/rl (normalised to sum to 1)",
    )
    test: Literal["eval", "holdout"] = Field(
        "eval", description="'eval': the hub's eval file; 'holdout': a seeded share of the pool"
    )
    holdout_fraction: float = Field(0.2, gt=0, lt=1, description="test share when test='holdout'")
    api_db_examples: bool | None = Field(
        None, description="add one SFT example per documented API; default: on when there is no train file"
    )
    data_dir: str | None = Field(None, description="a local directory holding APIBench files (plain or .gz)")
    source: Source = Field("auto", description="force one source: local, hub or bundled (default: auto)")

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: dict[str, float]) -> dict[str, float]:
        if any(v < 0 for v in value.values()) or sum(value.values()) <= 0:
            raise ValueError("must be non-negative and not all zero, e.g. sft=0.6,rm=0.2,rl=0.2")
        return value


def normalize_instruction(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").strip().lower())


def _example_code(entry: ApiEntry) -> str:
    code = entry.example_code
    if isinstance(code, list):
        code = "\n".join(str(c) for c in code)
    if isinstance(code, str) and code.strip() and code.strip().upper() != "N/A":
        return code.strip()
    return entry.api_call


def _first_sentences(text: Any, n: int = 2) -> str:
    text = re.sub(r"\s+", " ", str(text or "")).strip()
    parts = re.split(r"(?<=[.!?])\s+", text)
    return " ".join(parts[:n]).strip()


def api_db_records(db: ApiDatabase) -> list[ApiBenchRecord]:
    """One SFT record per documented API: 'I need <functionality>: <description>' -> its api_call."""
    out = []
    for index, entry in enumerate(db.entries):
        functionality = entry.functionality if isinstance(entry.functionality, str) else entry.domain
        instruction = f"I need an API for {functionality.strip().rstrip('.').lower()}. {_first_sentences(entry.description)}"
        output = ParsedOutput(
            domain=entry.domain,
            api_call=entry.api_call,
            api_provider=entry.framework,
            explanation=_first_sentences(entry.description, 3) or f"Use {entry.api_name}.",
            code=_example_code(entry),
        )
        out.append(
            ApiBenchRecord(
                id=f"{db.hub}/api/{index + 1}",
                hub=db.hub,
                split="api",
                index=index,
                line=index + 1,
                source_file=db.file["file"],
                instruction=instruction.strip(),
                output=output,
                api_call=entry.api_call,
                provider=entry.framework,
                api_data=entry,
                raw_code="",
            )
        )
    return out


@dataclass
class Splits:
    config: SplitConfig
    splits: dict[str, list[ApiBenchRecord]]
    manifest: dict[str, Any]

    def __getitem__(self, stage: str) -> list[ApiBenchRecord]:
        return self.splits[stage]

    def save(self, directory: str | Path) -> Path:
        """Write `{stage}.jsonl` per stage and the directory's record (config, counts, input hashes)."""
        directory = Path(directory)
        for stage, records in self.splits.items():
            write_jsonl(directory / f"{stage}.jsonl", (r.model_dump(mode="json") for r in records))
        write_sidecar(directory, self.manifest, directory=True)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Splits:
        directory = Path(directory)
        manifest = read_sidecar(directory)
        if manifest is None or "counts" not in manifest:
            raise DataError("not a splits directory (no record of `data splits`)", path=directory)
        splits = {
            stage: [
                ApiBenchRecord.model_validate(row)
                for _, row in read_jsonl(directory / f"{stage}.jsonl", allow_empty=True)
            ]
            for stage in manifest["counts"]
        }
        return cls(config=SplitConfig.model_validate(manifest["config"]), splits=splits, manifest=manifest)


def make_splits(config: SplitConfig | None = None) -> Splits:
    """Split one hub into sft / rm / rl / test, deterministically for a given config."""
    config = config or SplitConfig()
    eval_result = load_records(config.hub, "eval", data_dir=config.data_dir, source=config.source)
    has_train = _train_available(config)
    inputs = {"eval": eval_result.file}
    test_mode = config.test
    if has_train:
        train_result = load_records(config.hub, "train", data_dir=config.data_dir, source=config.source)
        inputs["train"] = train_result.file
        pool = train_result.parsed
    else:
        if test_mode == "eval":
            log.warning(
                "%s has no train file available: test is a %.0f%% hold-out of the eval file",
                config.hub,
                100 * config.holdout_fraction,
            )
        test_mode = "holdout"
        pool = eval_result.parsed

    rng = random.Random(config.seed)
    test: list[ApiBenchRecord] = []
    dropped_overlap = 0
    if test_mode == "eval":
        test = [r for r in eval_result.records if r.instruction]
        test_keys = {normalize_instruction(r.instruction) for r in test}
        kept = [r for r in pool if normalize_instruction(r.instruction) not in test_keys]
        dropped_overlap = len(pool) - len(kept)
        pool = kept

    groups: dict[str, list[ApiBenchRecord]] = {}
    for record in pool:
        groups.setdefault(normalize_instruction(record.instruction), []).append(record)
    keys = sorted(groups)
    rng.shuffle(keys)
    if test_mode == "holdout":
        n_test = round(len(keys) * config.holdout_fraction)
        test = sorted((r for k in keys[:n_test] for r in groups[k]), key=lambda r: r.index)
        keys = keys[n_test:]

    stages = [s for s in ("sft", "rm", "rl") if config.fractions.get(s, 0) > 0]
    total = sum(config.fractions[s] for s in stages)
    assigned: dict[str, list[ApiBenchRecord]] = {s: [] for s in ("sft", "rm", "rl")}
    bounds, acc = [], 0.0
    for s in stages:
        acc += config.fractions[s] / total
        bounds.append((s, round(acc * len(keys))))
    start = 0
    for s, end in bounds:
        assigned[s] = sorted(
            (r for k in keys[start:end] for r in groups[k]), key=lambda r: (r.split, r.index)
        )
        start = end

    use_api = config.api_db_examples if config.api_db_examples is not None else not has_train
    if use_api:
        db = load_api_db(config.hub, data_dir=config.data_dir, source=config.source)
        inputs["api"] = db.file
        taken = {normalize_instruction(r.instruction) for s in (test, *assigned.values()) for r in s}
        extra = [r for r in api_db_records(db) if normalize_instruction(r.instruction) not in taken]
        assigned["sft"] = assigned["sft"] + extra

    splits = {"sft": assigned["sft"], "rm": assigned["rm"], "rl": assigned["rl"], "test": test}
    counts = {k: len(v) for k, v in splits.items()}
    manifest = provenance(
        config,
        inputs=inputs,
        counts=counts,
        test_mode=test_mode,
        dropped_train_overlapping_test=dropped_overlap,
        api_db_examples=bool(use_api),
        split_hash=stable_hash({k: [r.id for r in v] for k, v in splits.items()}),
    )
    return Splits(config=config, splits=splits, manifest=manifest)


def _train_available(config: SplitConfig) -> bool:
    if config.data_dir is not None or config.source in ("local", "bundled"):
        return available(config.hub, "train", config.data_dir)
    if available(config.hub, "train"):
        return True
    # Not bundled: ask the Hub (or its cache) without failing.
    from gorilla_rlaif.data.sources import resolve_file

    try:
        resolve_file(config.hub, "train", source="hub" if config.source == "hub" else "auto")
        return True
    except DataError:
        return False

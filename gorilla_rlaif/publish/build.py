"""Feedback rows -> a versioned, Hub-layout dataset directory with three configs.

Layout (what `datasets.load_dataset(DIR, CONFIG)` and the Hub both read):

    DIR/README.md                               card + YAML `configs:` block
    DIR/preferences/{train,test}-00000-of-00001.parquet
    DIR/binary/{train,test}-00000-of-00001.parquet
    DIR/feedback/{train,test}-00000-of-00001.parquet
    DIR/gorilla_rlaif.meta.json                 everything that made it (the sidecar)
    DIR/score_histogram.png

Configs (TRL formats, see the table in the card):
- `preferences`: `prompt`, `chosen`, `rejected`, `score_chosen`, `score_rejected`, `prompt_id`.
  Pairs are candidates of the same prompt whose scores differ by at least `margin` (ties never
  pair); `best-vs-worst` makes one pair per prompt (its best and worst), `all-pairs` every pair.
- `binary`: `id`, `prompt_id`, `prompt`, `completion`, `label` (score >= threshold), `score`,
  `answers` (per question).
- `feedback`: every judged row, failed ones included (status, error, answers, P(yes), cost...).

Train/test is split by prompt, seeded, the same assignment for all three configs: no prompt is
in both splits of any config.
"""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
import tempfile
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gorilla_rlaif.artifacts import FeedbackRow, JudgeInfo, parse_row
from gorilla_rlaif.errors import ConfigError, DataError
from gorilla_rlaif.io import read_jsonl, sha256_file
from gorilla_rlaif.provenance import provenance
from gorilla_rlaif.sidecar import read_sidecar, write_sidecar

log = logging.getLogger(__name__)

CONFIGS = ("preferences", "binary", "feedback")
SPLITS = ("train", "test")
SHARD = "{split}-00000-of-00001.parquet"


class PublishConfig(BaseModel):
    """How feedback becomes a dataset. Parameters that control pairing, labels, splits, release:"""

    model_config = ConfigDict(extra="forbid")

    feedback: list[str] = Field(min_length=1, description="feedback JSONL file(s) from `gorilla-rlaif label`")
    output_dir: str = Field(description="the Hub-layout dataset directory")
    version: str = Field(description="semantic version of this release, e.g. 0.1.0 (tag v0.1.0)")
    # pairing
    pairing: Literal["best-vs-worst", "all-pairs"] = "best-vs-worst"
    margin: int = Field(1, ge=1, description="minimum score difference between chosen and rejected")
    # binary labels
    threshold: int = Field(7, ge=0, description="binary label = score >= threshold")
    # splits
    test_fraction: float = Field(0.1, ge=0, lt=1, description="share of prompts in the test split")
    seed: int = 0
    # release
    name: str = Field("gorilla-rlaif-feedback", description="dataset name shown in the card")
    license: str = "apache-2.0"
    push_to_hub: str | None = Field(
        None,
        description="Hub dataset repo (e.g. me/gorilla-feedback) to upload to; the card's examples load from it",
    )
    private: bool = Field(False, description="create the Hub repo as private")
    overwrite: bool = Field(False, description="replace an existing output directory")

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        value = value.removeprefix("v")
        if not re.fullmatch(r"\d+\.\d+\.\d+", value):
            raise ValueError(f"version must be MAJOR.MINOR.PATCH (e.g. 0.1.0), got {value!r}")
        return value


# ---- reading and validating feedback ----------------------------------------------------------
def read_feedback(paths: list[str]) -> tuple[list[FeedbackRow], list[dict[str, Any] | None]]:
    """Rows of every file (`FeedbackRow`, one per id, one judge) and each file's sidecar (or None)."""
    rows: list[FeedbackRow] = []
    where: dict[str, str] = {}
    metas = []
    settings: tuple[str | None, str, int] | None = None
    for path in paths:
        for line, raw in read_jsonl(path):
            if not {"status", "answers"} <= set(raw):
                raise DataError(
                    "not a feedback row (no 'status' and 'answers': is this a file written by "
                    "`gorilla-rlaif label`?)",
                    path=path,
                    line=line,
                )
            row = parse_row(FeedbackRow, raw, path, line)
            if row.id in where:
                raise DataError(f"duplicate id {row.id!r} (also at {where[row.id]})", path=path, line=line)
            where[row.id] = f"{path}:{line}"
            judge = row.judge or JudgeInfo(backend="?")
            this = (judge.settings_hash, path, line)
            if settings is None:
                settings = this
            elif this[0] != settings[0]:
                raise DataError(
                    f"row judged with other settings ({judge.backend}:{judge.model}, hash "
                    f"{str(this[0])[:12]}) than {settings[1]}:{settings[2]} (hash {str(settings[0])[:12]}): "
                    "one dataset must come from one judge and rubric",
                    path=path,
                    line=line,
                )
            rows.append(row)
        metas.append(read_sidecar(path))
    if not rows:
        raise DataError("no feedback rows", path=paths[0])
    return rows, metas


# ---- building the three configs ---------------------------------------------------------------
def split_prompts(prompt_ids: list[str], test_fraction: float, seed: int) -> dict[str, str]:
    """prompt_id -> 'train' | 'test'. Seeded; at least one test prompt when there are two or more."""
    ids = sorted(set(prompt_ids))
    random.Random(seed).shuffle(ids)
    n_test = round(len(ids) * test_fraction)
    if test_fraction > 0 and n_test == 0 and len(ids) >= 2:
        n_test = 1
    return {pid: ("test" if i < n_test else "train") for i, pid in enumerate(ids)}


def _rank_key(row: FeedbackRow) -> tuple:
    weighted = row.weighted_score
    return (-(row.score or 0), -(weighted if weighted is not None else 0.0), row.id)


def preference_pairs(rows: list[FeedbackRow], pairing: str, margin: int) -> list[dict[str, Any]]:
    """Pairs of candidates of one prompt (rows: the ok rows of that prompt)."""
    ranked = sorted(rows, key=_rank_key)
    if len(ranked) < 2:
        return []
    if pairing == "best-vs-worst":
        candidates = [(ranked[0], ranked[-1])]
    else:
        candidates = [(a, b) for a, b in combinations(ranked, 2)]
    pairs = []
    for chosen, rejected in candidates:
        if (chosen.score or 0) - (rejected.score or 0) >= margin:
            pairs.append(
                {
                    "prompt_id": chosen.prompt_id,
                    "prompt": chosen.prompt,
                    "chosen": chosen.completion,
                    "rejected": rejected.completion,
                    "score_chosen": chosen.score,
                    "score_rejected": rejected.score,
                }
            )
    return pairs


def _features(question_ids: list[str]):
    from datasets import Features, Value

    answers = {q: Value("string") for q in question_ids}
    p_yes = {q: Value("float64") for q in question_ids}
    return {
        "preferences": Features(
            {
                "prompt_id": Value("string"),
                "prompt": Value("string"),
                "chosen": Value("string"),
                "rejected": Value("string"),
                "score_chosen": Value("int32"),
                "score_rejected": Value("int32"),
            }
        ),
        "binary": Features(
            {
                "id": Value("string"),
                "prompt_id": Value("string"),
                "prompt": Value("string"),
                "completion": Value("string"),
                "label": Value("bool"),
                "score": Value("int32"),
                "answers": answers,
            }
        ),
        "feedback": Features(
            {
                "id": Value("string"),
                "prompt_id": Value("string"),
                "prompt": Value("string"),
                "completion": Value("string"),
                "status": Value("string"),
                "error": Value("string"),
                "score": Value("int32"),
                "max_score": Value("int32"),
                "weighted_score": Value("float64"),
                "answers": answers,
                "p_yes": p_yes,
                "judge_backend": Value("string"),
                "judge_model": Value("string"),
                "judge_mode": Value("string"),
                "rubric": Value("string"),
                "rubric_version": Value("string"),
                "rubric_hash": Value("string"),
                "hub": Value("string"),
                "prompt_tokens": Value("int64"),
                "completion_tokens": Value("int64"),
                "cost_usd": Value("float64"),
                "raw": Value("string"),
                "judged_at": Value("string"),
            }
        ),
    }


def _feedback_record(row: FeedbackRow, question_ids: list[str]) -> dict[str, Any]:
    judge = row.judge or JudgeInfo(backend=None)  # type: ignore[arg-type]
    raw = row.model_dump(include={"raw"}, exclude_unset=True).get("raw")
    return {
        "id": row.id,
        "prompt_id": row.prompt_id,
        "prompt": row.prompt,
        "completion": row.completion,
        "status": row.status,
        "error": row.error,
        "score": row.score,
        "max_score": row.top_score,
        "weighted_score": row.weighted_score,
        "answers": {q: row.answers.get(q) for q in question_ids},
        "p_yes": {q: row.p_yes.get(q) for q in question_ids},
        "judge_backend": judge.backend,
        "judge_model": judge.model,
        "judge_mode": judge.mode,
        "rubric": judge.rubric,
        "rubric_version": judge.rubric_version,
        "rubric_hash": judge.rubric_hash,
        "hub": row.hub,
        "prompt_tokens": row.usage.prompt_tokens if "usage" in row.model_fields_set else None,
        "completion_tokens": row.usage.completion_tokens if "usage" in row.model_fields_set else None,
        "cost_usd": row.cost_usd,
        "raw": json.dumps(raw, ensure_ascii=False),
        "judged_at": row.judged_at,
    }


def build_tables(
    rows: list[FeedbackRow], config: PublishConfig
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], list[str], dict[str, str]]:
    """{config: {split: rows}}, the question ids and the prompt -> split assignment."""
    question_ids = list(rows[0].answers)
    for row in rows:
        if list(row.answers) != question_ids:
            raise DataError(
                f"row {row.id!r} answers questions {list(row.answers)}, others {question_ids}: "
                "one dataset must use one rubric"
            )
    top = max(row.top_score for row in rows)
    if config.threshold > top:
        raise ConfigError(
            f"threshold {config.threshold}: a score is at most {top} ({len(question_ids)} questions), so "
            "every binary label would be False; use a threshold between 0 and the maximum score"
        )
    assignment = split_prompts([r.prompt_id for r in rows], config.test_fraction, config.seed)
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {c: {s: [] for s in SPLITS} for c in CONFIGS}
    by_prompt: dict[str, list[FeedbackRow]] = {}
    for row in rows:
        split = assignment[row.prompt_id]
        tables["feedback"][split].append(_feedback_record(row, question_ids))
        if row.status != "ok":
            continue
        by_prompt.setdefault(row.prompt_id, []).append(row)
        tables["binary"][split].append(
            {
                "id": row.id,
                "prompt_id": row.prompt_id,
                "prompt": row.prompt,
                "completion": row.completion,
                "label": (row.score or 0) >= config.threshold,
                "score": row.score,
                "answers": {q: row.answers[q] for q in question_ids},
            }
        )
    for prompt_id in sorted(by_prompt, key=str):
        split = assignment[prompt_id]
        tables["preferences"][split].extend(
            preference_pairs(by_prompt[prompt_id], config.pairing, config.margin)
        )
    return tables, question_ids, assignment


def content_hash(files: dict[str, str], name: str) -> str:
    """SHA-256 over the sha256 of a config's parquet files."""
    import hashlib

    blob = "".join(f"{path}:{sha}\n" for path, sha in sorted(files.items()) if path.startswith(f"{name}/"))
    return hashlib.sha256(blob.encode()).hexdigest()


def configs_yaml_block(files: dict[str, str], version: str) -> list[dict[str, Any]]:
    """The README `configs:` block, listing the splits that have rows (`datasets` cannot load an
    empty parquet split) and the configs that have any.

    Each config's `description` carries its content hash: for a local directory, `datasets` keys
    its cache only by the directory name and this block (not by file contents), so without it,
    loading a rebuilt directory returned the previous build's rows (seen in our tests). The hash
    makes every distinct content a distinct cache entry."""
    block = []
    for name in CONFIGS:
        splits = [split for split in SPLITS if f"{name}/{SHARD.format(split=split)}" in files]
        if not splits:
            continue
        block.append(
            {
                "config_name": name,
                "data_files": [{"split": split, "path": f"{name}/{split}-*"} for split in splits],
                "description": f"v{version}, content sha256 {content_hash(files, name)[:16]}",
            }
        )
    if block:
        block[0]["default"] = True
    return block


def build_dataset(config: PublishConfig) -> dict[str, Any]:
    """Write the dataset directory; return its provenance (counts, hashes, config)."""
    import pyarrow.parquet as pq
    from datasets import Dataset

    from gorilla_rlaif.publish.dataset_card import render_card, score_histogram_png

    out = Path(config.output_dir)
    if out.exists() and any(out.iterdir()) and not config.overwrite:
        raise ConfigError(f"{out} exists and is not empty: choose another --output-dir or pass --overwrite")
    rows, metas = read_feedback(config.feedback)
    tables, question_ids, assignment = build_tables(rows, config)
    features = _features(question_ids)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        files = {}
        for name in CONFIGS:
            (tmp / name).mkdir()
            for split in SPLITS:
                if not tables[name][split]:
                    log.warning("%s/%s has no rows: left out of the dataset", name, split)
                    continue
                path = tmp / name / SHARD.format(split=split)
                pq.write_table(
                    Dataset.from_list(tables[name][split], features=features[name]).data.table, path
                )
                files[f"{name}/{path.name}"] = sha256_file(path)
        counts = {name: {split: len(tables[name][split]) for split in SPLITS} for name in CONFIGS}
        ok = [r for r in rows if r.status == "ok"]
        prompts = {r.prompt_id for r in rows}
        stats = {
            "rows": len(rows),
            "ok": len(ok),
            "failed": len(rows) - len(ok),
            "prompts": len(prompts),
            "test_prompts": sum(1 for p in prompts if assignment[p] == "test"),
            "score_histogram": {str(k): v for k, v in sorted(Counter(r.score for r in ok).items())},
            "max_score": rows[0].top_score,
            "label_rate": round(sum((r.score or 0) >= config.threshold for r in ok) / len(ok), 4)
            if ok
            else None,
            "answer_yes_rate": {
                q: round(sum(r.answers[q] == "yes" for r in ok) / len(ok), 4) if ok else None
                for q in question_ids
            },
            "cost_usd": _total_cost(rows),
        }
        record = provenance(
            config,
            inputs={p: sha256_file(p) for p in config.feedback},
            stage="publish",
            dataset_version=config.version,
            counts=counts,
            stats=stats,
            files=files,
            feedback_meta=metas,
        )
        write_sidecar(tmp, record, directory=True)
        score_histogram_png(stats["score_histogram"], stats["max_score"], tmp / "score_histogram.png")
        card = render_card(
            config, record, rows, configs_yaml_block(files, config.version), example_pair(rows, config)
        )
        (tmp / "README.md").write_text(card, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return record


def example_pair(rows: list[FeedbackRow], config: PublishConfig) -> str | None:
    """The first preference pair, shortened, for the card."""
    by_prompt: dict[str, list[FeedbackRow]] = {}
    for row in rows:
        if row.status == "ok":
            by_prompt.setdefault(row.prompt_id, []).append(row)
    for prompt_id in sorted(by_prompt, key=str):
        pairs = preference_pairs(by_prompt[prompt_id], config.pairing, config.margin)
        if pairs:
            pair = {
                k: (v[:200] + "…" if isinstance(v, str) and len(v) > 200 else v) for k, v in pairs[0].items()
            }
            return json.dumps(pair, indent=2, ensure_ascii=False)
    return None


def _total_cost(rows: list[FeedbackRow]) -> float | None:
    costs = [r.cost_usd for r in rows]
    if not costs or any(c is None for c in costs):
        return None
    return round(sum(costs), 6)

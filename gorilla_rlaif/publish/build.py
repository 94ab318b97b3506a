"""Feedback rows -> a versioned, Hub-layout dataset directory with three configs.

Layout (what `datasets.load_dataset(DIR, CONFIG)` and the Hub both read):

    DIR/README.md                               card + YAML `configs:` block
    DIR/preferences/{train,test}-00000-of-00001.parquet
    DIR/binary/{train,test}-00000-of-00001.parquet
    DIR/feedback/{train,test}-00000-of-00001.parquet
    DIR/provenance.json                         everything that made it
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

from gorilla_rlaif.errors import ConfigError, DataError
from gorilla_rlaif.io import read_jsonl, sha256_file, write_json
from gorilla_rlaif.provenance import provenance

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
def _bad(path: str, line: int, message: str) -> DataError:
    return DataError(message, path=path, line=line)


def read_feedback(paths: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any] | None]]:
    """Rows of every file (validated, one per id) and each file's `.meta.json` (or None)."""
    from gorilla_rlaif.judge.label import meta_path

    rows: list[dict[str, Any]] = []
    where: dict[str, str] = {}
    metas = []
    settings: tuple[str, str, int] | None = None
    for path in paths:
        for line, row in read_jsonl(path):
            _validate_row(path, line, row)
            rid = str(row["id"])
            if rid in where:
                raise _bad(path, line, f"duplicate id {rid!r} (also at {where[rid]})")
            where[rid] = f"{path}:{line}"
            judge = row.get("judge") or {}
            this = (judge.get("settings_hash"), path, line)
            if settings is None:
                settings = this
            elif this[0] != settings[0]:
                raise _bad(
                    path,
                    line,
                    f"row judged with other settings ({judge.get('backend')}:{judge.get('model')}, hash "
                    f"{str(this[0])[:12]}) than {settings[1]}:{settings[2]} (hash {str(settings[0])[:12]}): "
                    "one dataset must come from one judge and rubric",
                )
            rows.append(row)
        mp = meta_path(path)
        metas.append(json.loads(mp.read_text(encoding="utf-8")) if mp.exists() else None)
    if not rows:
        raise DataError("no feedback rows", path=paths[0])
    return rows, metas


def _validate_row(path: str, line: int, row: dict[str, Any]) -> None:
    for name in ("id", "prompt_id", "prompt", "completion", "status", "answers"):
        if name not in row:
            raise _bad(
                path,
                line,
                f"feedback row is missing {name!r} (is this a file written by `gorilla-rlaif label`?)",
            )
    for name in ("prompt", "completion", "prompt_id"):
        if not isinstance(row[name], str):
            raise _bad(path, line, f"field {name!r} must be a string, got {type(row[name]).__name__}")
    if row["status"] not in ("ok", "failed"):
        raise _bad(path, line, f"status must be 'ok' or 'failed', got {row['status']!r}")
    answers = row["answers"]
    if not isinstance(answers, dict) or not answers:
        raise _bad(path, line, "'answers' must be an object of question id -> 'yes'/'no'")
    bad = {k: v for k, v in answers.items() if v not in ("yes", "no", None)}
    if bad:
        raise _bad(path, line, f"answers must be 'yes' or 'no', got {bad}")
    if row["status"] == "ok":
        score, max_score = row.get("score"), row.get("max_score", len(answers))
        if not isinstance(score, int) or isinstance(score, bool):
            raise _bad(path, line, f"row with status 'ok' needs an integer score, got {score!r}")
        if not 0 <= score <= max_score:
            raise _bad(path, line, f"score {score} is outside 0..{max_score}")
        if any(v is None for v in answers.values()):
            raise _bad(path, line, "row with status 'ok' has unanswered questions")
    elif not row.get("error"):
        raise _bad(path, line, "failed row without an 'error' reason")


# ---- building the three configs ---------------------------------------------------------------
def split_prompts(prompt_ids: list[str], test_fraction: float, seed: int) -> dict[str, str]:
    """prompt_id -> 'train' | 'test'. Seeded; at least one test prompt when there are two or more."""
    ids = sorted(set(prompt_ids))
    random.Random(seed).shuffle(ids)
    n_test = round(len(ids) * test_fraction)
    if test_fraction > 0 and n_test == 0 and len(ids) >= 2:
        n_test = 1
    return {pid: ("test" if i < n_test else "train") for i, pid in enumerate(ids)}


def _rank_key(row: dict[str, Any]) -> tuple:
    weighted = row.get("weighted_score")
    return (-row["score"], -(weighted if weighted is not None else 0.0), str(row["id"]))


def preference_pairs(rows: list[dict[str, Any]], pairing: str, margin: int) -> list[dict[str, Any]]:
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
        if chosen["score"] - rejected["score"] >= margin:
            pairs.append(
                {
                    "prompt_id": chosen["prompt_id"],
                    "prompt": chosen["prompt"],
                    "chosen": chosen["completion"],
                    "rejected": rejected["completion"],
                    "score_chosen": chosen["score"],
                    "score_rejected": rejected["score"],
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


def _feedback_record(row: dict[str, Any], question_ids: list[str]) -> dict[str, Any]:
    judge = row.get("judge") or {}
    usage = row.get("usage") or {}
    p_yes = row.get("p_yes") or {}
    return {
        "id": str(row["id"]),
        "prompt_id": row["prompt_id"],
        "prompt": row["prompt"],
        "completion": row["completion"],
        "status": row["status"],
        "error": row.get("error"),
        "score": row.get("score"),
        "max_score": row.get("max_score", len(question_ids)),
        "weighted_score": row.get("weighted_score"),
        "answers": {q: row["answers"].get(q) for q in question_ids},
        "p_yes": {q: p_yes.get(q) for q in question_ids},
        "judge_backend": judge.get("backend"),
        "judge_model": judge.get("model"),
        "judge_mode": judge.get("mode"),
        "rubric": judge.get("rubric"),
        "rubric_version": judge.get("rubric_version"),
        "rubric_hash": judge.get("rubric_hash"),
        "hub": row.get("hub"),
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "cost_usd": row.get("cost_usd"),
        "raw": json.dumps(row.get("raw"), ensure_ascii=False),
        "judged_at": row.get("judged_at"),
    }


def build_tables(
    rows: list[dict[str, Any]], config: PublishConfig
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], list[str], dict[str, str]]:
    """{config: {split: rows}}, the question ids and the prompt -> split assignment."""
    question_ids = list(rows[0]["answers"])
    for row in rows:
        if list(row["answers"]) != question_ids:
            raise DataError(
                f"row {row['id']!r} answers questions {list(row['answers'])}, others {question_ids}: "
                "one dataset must use one rubric"
            )
    assignment = split_prompts([r["prompt_id"] for r in rows], config.test_fraction, config.seed)
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {c: {s: [] for s in SPLITS} for c in CONFIGS}
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        split = assignment[row["prompt_id"]]
        tables["feedback"][split].append(_feedback_record(row, question_ids))
        if row["status"] != "ok":
            continue
        by_prompt.setdefault(row["prompt_id"], []).append(row)
        tables["binary"][split].append(
            {
                "id": str(row["id"]),
                "prompt_id": row["prompt_id"],
                "prompt": row["prompt"],
                "completion": row["completion"],
                "label": row["score"] >= config.threshold,
                "score": row["score"],
                "answers": {q: row["answers"][q] for q in question_ids},
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

    from gorilla_rlaif.publish.card import render_card, score_histogram_png

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
        ok = [r for r in rows if r["status"] == "ok"]
        prompts = {r["prompt_id"] for r in rows}
        stats = {
            "rows": len(rows),
            "ok": len(ok),
            "failed": len(rows) - len(ok),
            "prompts": len(prompts),
            "test_prompts": sum(1 for p in prompts if assignment[p] == "test"),
            "score_histogram": {str(k): v for k, v in sorted(Counter(r["score"] for r in ok).items())},
            "max_score": rows[0].get("max_score", len(question_ids)),
            "label_rate": round(sum(r["score"] >= config.threshold for r in ok) / len(ok), 4) if ok else None,
            "answer_yes_rate": {
                q: round(sum(r["answers"][q] == "yes" for r in ok) / len(ok), 4) if ok else None
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
        write_json(tmp / "provenance.json", record)
        score_histogram_png(stats["score_histogram"], stats["max_score"], tmp / "score_histogram.png")
        (tmp / "README.md").write_text(
            render_card(config, record, rows, configs_yaml_block(files, config.version)), encoding="utf-8"
        )
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return record


def _total_cost(rows: list[dict[str, Any]]) -> float | None:
    costs = [r.get("cost_usd") for r in rows]
    if not costs or any(c is None for c in costs):
        return None
    return round(sum(costs), 6)

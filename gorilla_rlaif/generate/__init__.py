"""Sample candidate completions for prompts: the stage between data and the judge.

`generate_candidates(CandidatesConfig)` reads prompts (JSONL rows from `gorilla-rlaif data
splits/export`, or any rows with `id` and `prompt`), samples `num_candidates` completions each,
drops exact duplicates per prompt, and appends candidate rows (`id`, `prompt_id`, `prompt`,
`completion`, `sample`, plus `hub` and `reference` = the gold API when the prompt row has one).
The generation config, model hashes and input hash go to `OUTPUT.meta.json`.

Resume: prompts are processed in fixed batches, each seeded from (seed, batch's first prompt id),
so a batch regenerated after a crash gives the same rows; rows already written are skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.artifacts import CandidateRow
from gorilla_rlaif.config import operational
from gorilla_rlaif.errors import ConfigError, DataError
from gorilla_rlaif.generate.base import GENERATORS, GenerationConfig, Generator, cut_at_stop, make_generator
from gorilla_rlaif.io import JsonlAppender, read_jsonl, sha256_file
from gorilla_rlaif.provenance import provenance, stable_hash
from gorilla_rlaif.sidecar import check_outputs, read_sidecar, write_sidecar

log = logging.getLogger(__name__)

__all__ = [
    "GENERATORS",
    "CandidatesConfig",
    "GenerationConfig",
    "Generator",
    "cut_at_stop",
    "generate_candidates",
    "make_generator",
    "read_prompts",
]


class CandidatesConfig(BaseModel):
    """What `gorilla-rlaif generate` does: which prompts, how to sample (`GenerationConfig`), where to."""

    model_config = ConfigDict(extra="forbid")

    prompts: str = Field(description="JSONL of prompts (rows with id + prompt or instruction)")
    output: str = Field(description="candidates JSONL (appended to / resumed)")
    generation: GenerationConfig
    limit: int | None = Field(None, ge=1, description="use only the first N prompts")
    progress: bool = operational(True, description="progress bar")


def _reference(row: dict[str, Any]) -> dict[str, Any] | None:
    api = row.get("api_data")
    if isinstance(api, dict) and api.get("api_call"):
        ref = {k: api.get(k) for k in ("api_call", "api_name", "domain", "framework")}
        output = row.get("output")
        if isinstance(output, dict) and output.get("api_call"):
            ref["answer_api_call"] = output["api_call"]
        return ref
    return row.get("reference") if isinstance(row.get("reference"), dict) else None


def read_prompts(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Prompt rows: `{id, prompt, hub?, reference?}`. A row gives its prompt either as `prompt`
    (text in the project format) or as `instruction` (+ optional `input`), as APIBench rows do."""
    from gorilla_rlaif.data import build_prompt

    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, row in read_jsonl(path):
        if "id" not in row:
            raise DataError("prompt row has no 'id'", path=path, line=line)
        pid = str(row["id"])
        if pid in seen:
            raise DataError(f"duplicate id {pid!r} (first on line {seen[pid]})", path=path, line=line)
        seen[pid] = line
        if isinstance(row.get("prompt"), str) and row["prompt"].strip():
            prompt = row["prompt"]
        elif isinstance(row.get("instruction"), str) and row["instruction"].strip():
            prompt = build_prompt(row["instruction"], row.get("input"))
        else:
            raise DataError(
                f"prompt row {pid!r} has neither a 'prompt' nor an 'instruction' string", path=path, line=line
            )
        rows.append({"id": pid, "prompt": prompt, "hub": row.get("hub"), "reference": _reference(row)})
        if limit and len(rows) >= limit:
            break
    return rows


def _source_data(prompts: str | Path) -> dict[str, Any] | None:
    """The APIBench files behind a prompts file made by `gorilla-rlaif data splits` (its record)."""
    try:
        return (read_sidecar(Path(prompts).parent) or {}).get("inputs")
    except DataError:
        return None


def batch_seed(seed: int, first_prompt_id: str) -> int:
    return int(stable_hash([seed, first_prompt_id]), 16) % (2**31 - 1)


def generate_candidates(
    config: CandidatesConfig, progress: bool = True, generator: Generator | None = None
) -> dict[str, Any]:
    """Sample candidates for every prompt into `config.output` (resuming); return counts."""
    check_outputs({"prompts": config.prompts}, {"output": config.output}, stage="generate")
    prompts = read_prompts(config.prompts, config.limit)
    gen = config.generation
    config_hash = stable_hash(gen.model_dump(mode="json"), length=32)
    previous = read_sidecar(config.output)
    if Path(config.output).exists() and previous and previous.get("generation_config_hash") != config_hash:
        raise ConfigError(
            f"{config.output} was generated with another configuration: use a new --output, or delete it to start over"
        )
    output = Path(config.output)
    existing = [r for _, r in read_jsonl(output, allow_empty=True, torn_tail=True)] if output.exists() else []
    per_prompt = Counter(row.get("prompt_id") for row in existing)
    expected = {row.get("prompt_id"): row.get("kept") for row in existing}
    batches = [prompts[i : i + gen.batch_size] for i in range(0, len(prompts), gen.batch_size)]
    todo = [
        b
        for b in batches
        if any(per_prompt[p["id"]] == 0 or per_prompt[p["id"]] != expected[p["id"]] for p in b)
    ]
    log.info("%d prompts in %d batches; %d batches to generate", len(prompts), len(batches), len(todo))

    # the model is loaded (and checked) before anything is written
    generator = generator or (make_generator(gen) if todo else None)
    appender = JsonlAppender(config.output, key="id")
    inputs = {"prompts": {"path": config.prompts, "sha256": sha256_file(config.prompts)}}
    meta = provenance(
        config,
        inputs=inputs,
        source_data=_source_data(config.prompts),
        stage="generate",
        generation_config_hash=config_hash,
        generator=generator.describe() if generator else (previous or {}).get("generator"),
    )
    write_sidecar(config.output, {**meta, "status": "running"})
    duplicates = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=len(prompts),
            initial=len(prompts) - sum(len(b) for b in todo),
            unit="prompt",
            desc="generate",
        )
    try:
        for batch in todo:
            assert generator is not None
            completions = generator.generate(
                [p["prompt"] for p in batch], gen.num_candidates, batch_seed(gen.seed, batch[0]["id"])
            )
            for prompt, texts in zip(batch, completions, strict=True):
                kept: list[tuple[int, str]] = []
                seen: set[str] = set()
                for k, text in enumerate(texts):
                    norm = text.strip()
                    if gen.dedup and norm in seen:
                        duplicates += 1
                        continue
                    seen.add(norm)
                    kept.append((k, text))
                for k, text in kept:
                    row = CandidateRow(
                        id=f"{prompt['id']}#{k}",
                        prompt_id=prompt["id"],
                        prompt=prompt["prompt"],
                        completion=text,
                        sample=k,
                        kept=len(kept),
                        **({"hub": prompt["hub"]} if prompt.get("hub") else {}),
                        **({"reference": prompt["reference"]} if prompt.get("reference") else {}),
                    )
                    if row.id not in appender:
                        appender.append(row.model_dump(mode="json", exclude_unset=True))
            if bar is not None:
                bar.update(len(batch))
    finally:
        appender.close()
        if bar is not None:
            bar.close()
    rows = [row for _, row in read_jsonl(config.output, allow_empty=True)]
    counts = {
        "prompts": len(prompts),
        "candidates": len(rows),
        "duplicates_dropped_this_run": duplicates,
        "mean_unique_per_prompt": round(len(rows) / max(len(prompts), 1), 3),
        "truncated_prompts_this_run": getattr(generator, "truncated", 0),
    }
    write_sidecar(config.output, {**meta, "status": "complete", "counts": counts})
    return counts

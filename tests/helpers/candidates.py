"""Candidate files for judge tests: real APIBench prompts with gold and mutated answers."""

from __future__ import annotations

import functools
from pathlib import Path

from gorilla_rlaif.data import build_prompt, format_target, load_records
from gorilla_rlaif.io import write_jsonl


@functools.lru_cache(maxsize=4)
def gold_records(hub: str = "torchhub", n: int = 40):
    records = [r for r in load_records(hub, "eval", source="bundled").records if r.ok]
    return records[:n]


def candidate_rows(n_prompts: int = 4, per_prompt: int = 3, hub: str = "torchhub") -> list[dict]:
    """`per_prompt` candidates per prompt: the gold answer, then variants of it."""
    rows = []
    for record in gold_records(hub, max(n_prompts, 1)):
        if len({r["prompt_id"] for r in rows}) >= n_prompts:
            break
        prompt = build_prompt(record.instruction, record.input)
        gold = format_target(record.output)
        variants = [gold, gold.replace("import ", "# import "), gold + "\nprint(undefined_thing)"]
        for k in range(per_prompt):
            rows.append(
                {
                    "id": f"{record.id}#{k}",
                    "prompt_id": record.id,
                    "prompt": prompt,
                    "completion": variants[k % len(variants)] + ("" if k < len(variants) else f"\n# v{k}"),
                    "hub": hub,
                    "reference": {"api_call": record.api_data.api_call, "domain": record.api_data.domain},
                }
            )
    return rows


def write_candidates(path: Path, n_prompts: int = 4, per_prompt: int = 3) -> list[dict]:
    rows = candidate_rows(n_prompts, per_prompt)
    write_jsonl(path, rows)
    return rows

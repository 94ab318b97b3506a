"""Write or update a model's card (README.md) with eval results and how it was trained.

gorilla-bench card runs/sft --results eval-results/runs__sft/test-1a2b3c4d5e/results.json
gorilla-bench card runs/sft --results R1.json R2.json --push --repo-id me/tiny-gorilla   # HF_TOKEN
gorilla-bench card me/tiny-gorilla --results R.json --push     # update the card on the Hub

Results go to the `model-index` metadata in the Hub's format (task text-generation, dataset
gorilla-llm/APIBench with the hub as config and the split, one metric per score) and to a table.
For a model trained by gorilla-rlaif, a training section comes from its record (gorilla_rlaif.meta.json).
Existing card text and metadata are kept; re-running replaces our results, never duplicates them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.cli.command import Command, flag, positional

HELP = "write/update a model card: model-index eval results + training provenance (--push)"


class CardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(description="a local model directory, or a Hub model id")
    results: list[str] = Field(default_factory=list, description="results.json file(s) of gorilla-bench eval")
    push: bool = Field(False, description="upload README.md to the Hub (token: HF_TOKEN)")
    repo_id: str | None = Field(
        None, description="Hub repo to push a local model's card to (default: MODEL for an id)"
    )
    output: str | None = Field(
        None, description="where to write the card of a Hub model (default: ./MODEL_SLUG.README.md)"
    )
    model_name: str | None = Field(
        None, description="name in the card and model-index (default: dir or repo name)"
    )
    allow_other_model: bool = Field(
        False,
        description="add results whose model is not MODEL (e.g. a local eval of the model you uploaded)",
    )


def _read_results(paths: list[str]) -> list[dict[str, Any]]:
    """Each results.json once (a path given twice, or two copies of one run, count once)."""
    from gorilla_rlaif.errors import DataError

    results: dict[Any, dict[str, Any]] = {}
    for path in paths:
        p = Path(path)
        if p.is_dir():
            p = p / "results.json"
        if not p.is_file():
            raise DataError("results file not found", path=p)
        try:
            record = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"not a results.json ({type(exc).__name__}: {exc})", path=p) from None
        if not isinstance(record, dict) or "hubs" not in record:
            raise DataError("not a gorilla-bench results.json (no 'hubs')", path=p)
        record["_path"] = str(p)
        results.setdefault((record.get("model"), record.get("config_hash"), record.get("run_name")), record)
    return list(results.values())


def run(config: CardConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.errors import ConfigError
    from gorilla_rlaif.eval import model_slug
    from gorilla_rlaif.model_card import (
        build_card,
        check_results_model,
        load_hub_card,
        model_target,
        push_model_card,
        write_model_card,
    )

    local, repo_id = model_target(config.model)
    existing = None
    if local is not None:
        from gorilla_rlaif.io import check_output

        check_output(local / "README.md")
    else:
        repo_id = config.repo_id or repo_id
        existing = load_hub_card(repo_id)
        if existing is None and not config.push:
            raise ConfigError(
                f"{config.model}: not a local model directory, and the Hub has no model {repo_id!r} "
                "(a typo? pass --push to create that repo's first card)"
            )
    results = _read_results(config.results)
    if not config.allow_other_model:
        check_results_model(results, config.model)
    for record in results:
        record.pop("_path", None)
    if local is not None:
        if config.push and not config.repo_id:
            raise ConfigError("--push of a local model's card needs --repo-id (the Hub repo to update)")
        readme = write_model_card(
            local, results=results, model_name=config.model_name, repo_id=config.repo_id
        )
        text = readme.read_text(encoding="utf-8")
        print(f"wrote {readme}")
        repo_id = config.repo_id
    else:
        card = build_card(
            existing, model_name=config.model_name or repo_id.split("/")[-1], repo=repo_id, results=results
        )
        text = str(card)
        out = Path(config.output or f"{model_slug(repo_id)}.README.md")
        from gorilla_rlaif.io import write_text

        write_text(out, text)
        print(f"wrote {out}" + (" (updated the card from the Hub)" if existing else " (new card)"))
    if config.push:
        url = push_model_card(text, repo_id)
        print(f"pushed the card to {repo_id}: {url}")
    return 0


COMMAND = Command(
    HELP,
    CardConfig,
    run,
    flags=[
        positional("model", "MODEL"),
        flag("results", nargs="+"),
        flag("push", value=True),
        flag("repo_id"),
        flag("output"),
        flag("model_name"),
        flag("allow_other_model", value=True),
    ],
    outputs={"output": "file"},
)

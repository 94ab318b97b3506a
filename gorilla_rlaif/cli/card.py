"""Write or update a model's card (README.md) with eval results and how it was trained.

gorilla-bench card runs/sft --results eval-results/runs__sft/test-1a2b3c4d5e/results.json
gorilla-bench card runs/sft --results R1.json R2.json --push --repo-id me/tiny-gorilla   # HF_TOKEN
gorilla-bench card me/tiny-gorilla --results R.json --push     # update the card on the Hub

Results go to the `model-index` metadata in the Hub's format (task text-generation, dataset
gorilla-llm/APIBench with the hub as config and the split, one metric per score) and to a table.
For a model trained by gorilla-rlaif, a training section comes from gorilla_rlaif_train.json.
Existing card text and metadata are kept; re-running replaces our results, never duplicates them.
"""

from __future__ import annotations

import argparse

HELP = "write/update a model card: model-index eval results + training provenance (--push)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a local model directory, or a Hub model id")
    parser.add_argument("--results", nargs="+", default=[], help="results.json file(s) of gorilla-bench eval")
    parser.add_argument("--push", action="store_true", help="upload README.md to the Hub (token: HF_TOKEN)")
    parser.add_argument(
        "--repo-id", help="Hub repo to push a local model's card to (default: MODEL for an id)"
    )
    parser.add_argument(
        "--output", help="where to write the card of a Hub model (default: ./MODEL_SLUG.README.md)"
    )
    parser.add_argument("--model-name", help="name in the card and model-index (default: dir or repo name)")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from gorilla_rlaif.card import build_card, load_hub_card, push_model_card, write_model_card
    from gorilla_rlaif.errors import ConfigError, DataError
    from gorilla_rlaif.eval import model_slug

    results = []
    for path in args.results:
        p = Path(path)
        if p.is_dir():
            p = p / "results.json"
        if not p.exists():
            raise DataError("results file not found", path=p)
        try:
            results.append(json.loads(p.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=p, line=exc.lineno) from None
    local = Path(args.model).expanduser()
    if local.is_dir():
        if args.push and not args.repo_id:
            raise ConfigError("--push of a local model's card needs --repo-id (the Hub repo to update)")
        readme = write_model_card(local, results=results, model_name=args.model_name, repo_id=args.repo_id)
        text = readme.read_text(encoding="utf-8")
        print(f"wrote {readme}")
        repo_id = args.repo_id
    else:
        repo_id = args.repo_id or args.model
        existing = load_hub_card(repo_id)
        card = build_card(
            existing, model_name=args.model_name or repo_id.split("/")[-1], repo=repo_id, results=results
        )
        text = str(card)
        out = Path(args.output or f"{model_slug(repo_id)}.README.md")
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}" + (" (updated the card from the Hub)" if existing else " (new card)"))
    if args.push:
        url = push_model_card(text, repo_id)
        print(f"pushed the card to {repo_id}: {url}")
    return 0

"""Write or update a model's card (README.md) with eval results and how it was trained.

gorilla-bench card runs/sft --results eval-results/runs__sft/test-1a2b3c4d5e/results.json
gorilla-bench card runs/sft --results R1.json R2.json --push --repo-id me/tiny-gorilla   # HF_TOKEN
gorilla-bench card me/tiny-gorilla --results R.json --push     # update the card on the Hub

Results go to the `model-index` metadata in the Hub's format (task text-generation, dataset
gorilla-llm/APIBench with the hub as config and the split, one metric per score), to a table, and
to the Hub's newer `.eval_results/apibench-<hub>.yaml` files (one entry per metric, task id
`<hub>_<metric>`), which `--push` uploads in the same commit as the card. Several results files
of one hub and split (e.g. the seeds of one training recipe) give their mean and sd.
For a model trained by gorilla-rlaif, a training section comes from gorilla_rlaif_train.json.
Existing card text and metadata are kept; re-running replaces our results, never duplicates them.
"""

from __future__ import annotations

import argparse

HELP = "write/update a model card: model-index + .eval_results/*.yaml scores, training provenance (--push)"


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

    from gorilla_rlaif.card import (
        EVAL_RESULTS_DIR,
        build_card,
        eval_result_entries,
        load_hub_card,
        load_hub_eval_results,
        local_eval_results,
        push_model_card,
        update_eval_results,
        write_model_card,
    )
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
        eval_results = local_eval_results(local)
        print(
            f"wrote {readme}"
            + (f" and {len(eval_results)} file(s) in {local / EVAL_RESULTS_DIR}" if results else "")
        )
        repo_id = args.repo_id
        if args.push:  # merge with what the repo already has, as for a Hub model
            remote = load_hub_eval_results(repo_id, list(eval_results))
            eval_results = (
                {**eval_results, **update_eval_results(results, remote)} if remote else eval_results
            )
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
        names = list(eval_result_entries(results)) if results else []
        eval_results = update_eval_results(results, load_hub_eval_results(repo_id, names)) if results else {}
        for name, yaml_text in eval_results.items():
            side = out.with_name(f"{out.name.removesuffix('.README.md')}.{name}")
            side.write_text(yaml_text, encoding="utf-8")
            print(f"wrote {side} (for {EVAL_RESULTS_DIR}/{name})")
    if args.push:
        url = push_model_card(text, repo_id, eval_results=eval_results)
        print(f"pushed the card to {repo_id}: {url}")
    return 0

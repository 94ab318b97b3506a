"""Score model responses with Gorilla's AST accuracy / hallucination, ROUGE-L and CodeBLEU.

RESPONSES is Gorilla's response format: JSON Lines with `question_id` (1-based line number of the
hub's eval file) and `text` (the whole model answer). The AST verdicts follow Gorilla's
evaluators exactly (the default) or, with --strict, require the gold API; both accuracies are
reported. Rates carry percentile-bootstrap 95% intervals.

examples:
  gorilla-bench score responses.jsonl --hub torchhub
  gorilla-bench score responses.jsonl --hub hf --output summary.json --per-sample rows.jsonl
  gorilla-bench score responses.jsonl --hub tf --strict --no-text-metrics
"""

from __future__ import annotations

import argparse

from gorilla_rlaif.cli._common import add_data_source_args, add_hub_arg

HELP = "score responses: Gorilla AST accuracy / hallucination (and strict), ROUGE-L, CodeBLEU"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("responses", help="JSON Lines file with question_id and text per line")
    add_hub_arg(parser)
    parser.add_argument("--output", "-o", help="write the JSON summary (with provenance) here")
    parser.add_argument("--per-sample", help="write one JSON Lines row per response here")
    parser.add_argument("--strict", action="store_true", help="verdicts require the exact gold API")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--no-text-metrics", action="store_true", help="skip ROUGE-L and CodeBLEU (AST verdicts only)"
    )
    add_data_source_args(parser)


def _pct(estimate: dict) -> str:
    if estimate["value"] is None:
        return "n/a"
    low, high = estimate["ci95"]
    return f"{100 * estimate['value']:6.2f}%  [{100 * low:6.2f}, {100 * high:6.2f}]"


def run(args: argparse.Namespace) -> int:
    from gorilla_rlaif.data import load_api_db, load_records, normalize_hub
    from gorilla_rlaif.io import sha256_file, write_json, write_jsonl
    from gorilla_rlaif.metrics import ApiMatcher, load_responses, score_responses
    from gorilla_rlaif.provenance import provenance

    hub = normalize_hub(args.hub)
    source = {"data_dir": args.data_dir, "source": args.source, "revision": args.revision}
    responses = load_responses(args.responses)
    records = load_records(hub, "eval", **source)
    db = load_api_db(hub, **source)
    report = score_responses(
        hub,
        responses,
        records=records,
        strict=args.strict,
        bootstrap=args.bootstrap,
        seed=args.seed,
        text_metrics=not args.no_text_metrics,
        matcher=ApiMatcher.from_db(db),
        progress=True,
    )
    summary = report.summary
    print(f"{hub}: {summary['n']} responses ({summary['mode']} verdicts), value and 95% bootstrap interval")
    for key in (
        "ast_accuracy",
        "hallucination_rate",
        "error_rate",
        "ast_accuracy_strict",
        "rouge_l",
        "codebleu",
    ):
        print(f"  {key:<20} {_pct(summary[key])}")
    print(f"  {'without code':<20} {summary['n_without_code']}")
    if args.output:
        config = {
            "hub": hub,
            "strict": args.strict,
            "bootstrap": args.bootstrap,
            "seed": args.seed,
            "text_metrics": not args.no_text_metrics,
        }
        inputs = {"responses": sha256_file(args.responses), "records": records.file, "api_db": db.file}
        write_json(args.output, {**summary, "provenance": provenance(config, inputs=inputs)})
        print(f"summary: {args.output}")
    if args.per_sample:
        write_jsonl(args.per_sample, report.row_dicts())
        print(f"per-sample rows: {args.per_sample}")
    return 0

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

from pydantic import Field

from gorilla_rlaif.cli.command import Command, flag, positional
from gorilla_rlaif.cli.data import DataSource, source_flags
from gorilla_rlaif.data.schema import HUBS
from gorilla_rlaif.data.sources import HubName

HELP = "score responses: Gorilla AST accuracy / hallucination (and strict), ROUGE-L, CodeBLEU"


class ScoreConfig(DataSource):
    """`gorilla-bench score`: which responses, against which hub's gold records, how."""

    responses: str = Field(description="JSON Lines file with question_id and text per line")
    hub: HubName = Field(description=f"APIBench hub: {', '.join(HUBS)} (aliases: hf, tf, torch)")
    output: str | None = Field(None, description="write the JSON summary (with provenance) here")
    per_sample: str | None = Field(None, description="write one JSON Lines row per response here")
    strict: bool = Field(False, description="verdicts require the exact gold API")
    bootstrap: int = Field(1000, ge=0, le=100_000, description="bootstrap resamples (0: no intervals)")
    seed: int = Field(0, description="bootstrap seed")
    text_metrics: bool = Field(True, description="ROUGE-L and CodeBLEU (off: AST verdicts only)")


def _pct(estimate: dict) -> str:
    if estimate["value"] is None:
        return "n/a"
    low, high = estimate["ci95"]
    if low is None:
        return f"{100 * estimate['value']:6.2f}%"
    return f"{100 * estimate['value']:6.2f}%  [{100 * low:6.2f}, {100 * high:6.2f}]"


def run(config: ScoreConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.data import load_api_db, load_records, normalize_hub
    from gorilla_rlaif.io import sha256_file, write_json, write_jsonl
    from gorilla_rlaif.metrics import ApiMatcher, load_responses, score_responses
    from gorilla_rlaif.metrics.score import check_hub
    from gorilla_rlaif.provenance import provenance

    hub = normalize_hub(config.hub)
    source = config.source_kwargs
    responses = load_responses(config.responses)
    check_hub(hub, responses, config.responses)
    records = load_records(hub, "eval", **source)
    db = load_api_db(hub, **source)
    report = score_responses(
        hub,
        responses,
        records=records,
        strict=config.strict,
        bootstrap=config.bootstrap,
        seed=config.seed,
        text_metrics=config.text_metrics,
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
    if config.output:
        inputs = {"responses": sha256_file(config.responses), "records": records.file, "api_db": db.file}
        write_json(config.output, {**summary, "provenance": provenance(config, inputs=inputs)})
        print(f"summary: {config.output}")
    if config.per_sample:
        write_jsonl(config.per_sample, report.row_dicts())
        print(f"per-sample rows: {config.per_sample}")
    return 0


COMMAND = Command(
    HELP,
    ScoreConfig,
    run,
    flags=[
        positional("responses", "RESPONSES"),
        flag("hub", choices=()),
        flag("output", "--output", "-o"),
        flag("per_sample"),
        flag("strict", value=True),
        flag("bootstrap"),
        flag("seed"),
        flag(
            "text_metrics",
            "--no-text-metrics",
            value=False,
            help="skip ROUGE-L and CodeBLEU (AST verdicts only)",
        ),
        *source_flags(),
    ],
    outputs={"output": "file", "per_sample": "file"},
)

"""Ask a judge the rubric's yes/no questions about every candidate; write feedback rows.

gorilla-rlaif label runs/candidates.jsonl --judge rules --output runs/feedback.jsonl
gorilla-rlaif label C.jsonl --judge openai:gpt-4o-mini --output F.jsonl --cache F.sqlite --concurrency 32
gorilla-rlaif label C.jsonl --judge openai:Qwen2.5-7B-Instruct --base-url http://localhost:8000/v1 --mode rubric -o F.jsonl
gorilla-rlaif label C.jsonl --judge hf:runs/judge-model --batch-size 16 -o F.jsonl

Judges: `rules` (offline checks: compile, pyflakes, Gorilla's AST matcher), `openai:MODEL` (any
OpenAI-compatible server; key from OPENAI_API_KEY), `hf:PATH` (P(yes) vs P(no) from a local model).
Each backend reads its own block of the config (`judge.openai.*`, `judge.hf.*`, `judge.rules.*`).
Every answer is cached in SQLite as it arrives: re-running the same command after a crash or
Ctrl-C repeats no answered request. Failed rows keep their reason; --retry-failed re-asks them.
"""

from __future__ import annotations

import argparse
from typing import Any

from gorilla_rlaif.cli.command import Command, flag, positional
from gorilla_rlaif.judge.label import LabelConfig

HELP = "label candidates with an AI judge (openai, hf) or the rules judge; resumable, cached"


def prices(items: list[str]) -> dict[str, Any]:
    """`["gpt-x=0.5,1.5"]` -> `{"gpt-x": {"input": 0.5, "output": 1.5}}` (USD per million tokens)."""
    from gorilla_rlaif.errors import ConfigError

    out = {}
    for text in items:
        model, _, numbers = text.partition("=")
        try:
            prompt, completion = (float(x) for x in numbers.split(","))
        except ValueError:
            raise ConfigError(
                f"--price {text!r}: expected MODEL=INPUT,OUTPUT in USD per million tokens"
            ) from None
        out[model.strip()] = {"input": prompt, "output": completion}
    return out


def run(config: LabelConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.judge import label

    summary = label(config, progress=config.progress)
    run_totals = summary.get("run") or {}
    cost = summary["cost_usd"]
    cost_text = f"${cost:.4f}" if cost is not None else "unknown"
    print(
        f"wrote {config.output}: {summary['ok']} judged, {summary['failed']} failed, mean score "
        f"{summary['mean_score']}, cost {cost_text}"
        + (
            f" (this run: {run_totals.get('requests_sent', 0)} requests sent, {run_totals.get('cached', 0)} from cache)"
            if run_totals
            else ""
        )
    )
    for reason, n in summary["failure_reasons"].items():
        print(f"  failed x{n}: {reason}")
    if summary["failed"]:
        print(
            f"{summary['failed']} row(s) failed (reasons above, kept in the output): re-run with --retry-failed"
        )
    return 0


LLM = "judge.openai.llm"
COMMAND = Command(
    HELP,
    LabelConfig,
    run,
    flags=[
        positional("candidates", "CANDIDATES"),
        flag("output", "--output", "-o"),
        flag("judge.judge", "--judge"),
        flag("judge.rubric", "--rubric"),
        flag("limit"),
        flag("progress", "--no-progress", value=False, help="no progress bar"),
        flag("judge.mode", "--mode"),
        flag(f"{LLM}.base_url", "--base-url"),
        flag(f"{LLM}.api_key_env", "--api-key-env"),
        flag("cache"),
        flag(f"{LLM}.concurrency", "--concurrency"),
        flag(f"{LLM}.requests_per_minute", "--rpm"),
        flag(f"{LLM}.tokens_per_minute", "--tpm"),
        flag(f"{LLM}.timeout", "--timeout"),
        flag(f"{LLM}.max_retries", "--max-retries"),
        flag(f"{LLM}.max_malformed_retries", "--max-malformed-retries"),
        flag(f"{LLM}.retry_failed", "--retry-failed", value=True),
        flag("judge.openai.top_logprobs", "--top-logprobs"),
        flag("judge.openai.response_format", "--response-format"),
        flag(f"{LLM}.prices", "--price", metavar="MODEL=IN,OUT", append=True, parse=prices),
        flag("judge.hf.batch_size", "--batch-size"),
        flag("judge.hf.device", "--device"),
        flag("judge.rules.hub", "--hub"),
        flag("judge.rules.data_dir", "--data-dir"),
    ],
    outputs={"output": "file", "cache": "file"},
)

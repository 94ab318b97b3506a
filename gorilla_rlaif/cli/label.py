"""Ask a judge the rubric's yes/no questions about every candidate; write feedback rows.

gorilla-rlaif label runs/candidates.jsonl --judge rules --output runs/feedback.jsonl
gorilla-rlaif label C.jsonl --judge openai:gpt-4o-mini --output F.jsonl --cache F.sqlite --concurrency 32
gorilla-rlaif label C.jsonl --judge openai:Qwen2.5-7B-Instruct --base-url http://localhost:8000/v1 --mode rubric -o F.jsonl
gorilla-rlaif label C.jsonl --judge hf:runs/judge-model --batch-size 16 -o F.jsonl

Judges: `rules` (offline checks: compile, pyflakes, Gorilla's AST matcher), `openai:MODEL` (any
OpenAI-compatible server; key from OPENAI_API_KEY), `hf:PATH` (P(yes) vs P(no) from a local model).
Every answer is cached in SQLite as it arrives: re-running the same command after a crash or
Ctrl-C repeats no answered request. Failed rows keep their reason; --retry-failed re-asks them.
"""

from __future__ import annotations

import argparse

HELP = "label candidates with an AI judge (openai, hf) or the rules judge; resumable, cached"


def _price(text: str):
    from gorilla_rlaif.errors import ConfigError
    from gorilla_rlaif.llm import Price

    model, _, numbers = text.partition("=")
    try:
        prompt, completion = (float(x) for x in numbers.split(","))
    except ValueError:
        raise ConfigError(
            f"--price {text!r}: expected MODEL=INPUT,OUTPUT in USD per million tokens"
        ) from None
    return model.strip(), Price(input=prompt, output=completion)


def _default(field: str):
    from gorilla_rlaif.judge import JudgeConfig

    return JudgeConfig.model_fields[field].default


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("candidates", help="candidates JSONL (from `gorilla-rlaif generate`)")
    parser.add_argument("--output", "-o", required=True, help="feedback JSONL (appended to / resumed)")
    parser.add_argument("--judge", default="rules", help="rules | openai:MODEL | hf:PATH (default: rules)")
    parser.add_argument("--rubric", help="built-in rubric name or a YAML file (default: gorilla-apibench-v1)")
    parser.add_argument("--limit", type=int, help="only the first N candidates")
    parser.add_argument("--no-progress", action="store_true")
    api = parser.add_argument_group("openai judge")
    api.add_argument("--mode", choices=("per-question", "rubric"), default="per-question")
    api.add_argument("--base-url", help="OpenAI-compatible server (vLLM, Ollama, Azure, ...)")
    api.add_argument("--api-key-env", default="OPENAI_API_KEY", help="variable holding the API key")
    api.add_argument("--cache", help="SQLite answer cache (default: next to --output)")
    api.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    api.add_argument("--rpm", type=float, help="requests per minute limit")
    api.add_argument("--tpm", type=float, help="tokens per minute limit")
    api.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    api.add_argument("--max-retries", type=int, default=6, help="retries on 429/5xx/timeouts")
    api.add_argument(
        "--max-malformed-retries", type=int, default=2, help="re-asks after an unreadable answer"
    )
    api.add_argument(
        "--retry-failed", action="store_true", help="re-ask rows and requests that failed before"
    )
    api.add_argument("--top-logprobs", type=int, default=5, help="alternatives per token (0: no logprobs)")
    api.add_argument(
        "--response-format",
        choices=("auto", "json_schema", "json_object_schema", "json_object", "none"),
        default="auto",
        help="rubric mode (auto: the first the server accepts and enforces, in this order)",
    )
    api.add_argument(
        "--min-yes-no-mass",
        type=float,
        default=_default("min_yes_no_mass"),
        help="per-question: least P(yes)+P(no) among the alternatives to read an answer from",
    )
    api.add_argument(
        "--max-consecutive-failures",
        type=int,
        default=_default("max_consecutive_failures"),
        help="stop when this many rows in a row fail the same way (0: never)",
    )
    api.add_argument(
        "--price", action="append", default=[], metavar="MODEL=IN,OUT", help="USD per 1M tokens (repeatable)"
    )
    local = parser.add_argument_group("hf and rules judges")
    local.add_argument("--batch-size", type=int, default=8)
    local.add_argument("--device", default="cpu")
    local.add_argument("--hub", help="API database for rows without a hub field (rules judge)")
    local.add_argument("--data-dir", help="local APIBench directory (rules judge)")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from gorilla_rlaif.errors import ConfigError
    from gorilla_rlaif.judge import JudgeConfig, LabelConfig, label
    from gorilla_rlaif.llm import LLMSettings

    try:
        llm = LLMSettings(
            base_url=args.base_url,
            api_key_env=args.api_key_env,
            concurrency=args.concurrency,
            requests_per_minute=args.rpm,
            tokens_per_minute=args.tpm,
            timeout=args.timeout,
            max_retries=args.max_retries,
            max_malformed_retries=args.max_malformed_retries,
            retry_failed=args.retry_failed,
            prices=dict(_price(p) for p in args.price),
        )
        config = LabelConfig(
            candidates=args.candidates,
            output=args.output,
            cache=args.cache,
            limit=args.limit,
            judge=JudgeConfig(
                judge=args.judge,
                rubric=args.rubric,
                mode=args.mode,
                response_format=args.response_format,
                top_logprobs=args.top_logprobs,
                min_yes_no_mass=args.min_yes_no_mass,
                max_consecutive_failures=args.max_consecutive_failures,
                llm=llm,
                batch_size=args.batch_size,
                device=args.device,
                hub=args.hub,
                data_dir=args.data_dir,
            ),
        )
    except ValidationError as exc:
        raise ConfigError(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None
    summary = label(config, progress=not args.no_progress)
    run_totals = summary.get("run") or {}
    cost = summary["cost_usd"]
    cost_text = f"${cost:.4f}" if cost is not None else "unknown"
    print(
        f"wrote {args.output}: {summary['ok']} judged, {summary['failed']} failed, mean score "
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

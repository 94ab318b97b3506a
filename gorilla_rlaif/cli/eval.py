"""Benchmark a model on APIBench: generate answers, execute their code in a sandbox, score them.

gorilla-bench eval runs/sft --hub torchhub --sandbox docker
gorilla-bench eval gorilla-llm/gorilla-7b-hf-v1 --hub hf tf torch --split eval --batch-size 16 --device cuda
gorilla-bench eval gpt-3.5-turbo --backend openai --hub torchhub --num-runs 3 --temperature 0.7  # key: OPENAI_API_KEY
gorilla-bench eval my-model --backend openai --base-url http://localhost:8000/v1 --hub torchhub   # vLLM/Ollama server
gorilla-bench eval runs/sft --hub torchhub --limit 20 --sandbox local --max-new-tokens 128        # quick check
gorilla-bench eval apibench-reference --backend reference --hub torchhub   # the ceiling: APIBench's own answers
gorilla-bench eval runs/sft --hub torchhub --sandbox remote --sandbox-url http://sandbox:8080   # gorilla-bench serve

Writes OUTPUT_PATH/MODEL/RUN/results.json (per hub: n, AST accuracy, hallucination, wrong-API rate,
strict AST accuracy, ROUGE-L, CodeBLEU, executability, each with a 95% interval; execution status
counts; config, versions and data hashes) and samples.jsonl (prompt, response, parsed sections,
verdicts and execution status per sample). RUN defaults to SPLIT-<hash of the settings>, so the
same command resumes an interrupted eval and a different one never mixes into it.
Generated code only ever runs in the sandbox: 'docker' (isolated, no network) or 'local'
(subprocess with limits, for machines without Docker), 'remote' (a `gorilla-bench serve` elsewhere)
or 'ray' (a sandbox pool on every node of a Ray cluster); '--sandbox none' skips executability.
"""

from __future__ import annotations

import argparse

from gorilla_rlaif.cli.command import Command, flag, positional
from gorilla_rlaif.eval.config import EvalConfig

HELP = "evaluate a model: AST accuracy, hallucination, ROUGE-L, CodeBLEU, executability"


def print_summary(results: dict) -> None:
    from gorilla_rlaif.metrics.names import METRICS

    keys = [k for k, _, _ in METRICS]
    short = {
        "ast_accuracy": "AST",
        "hallucination_rate": "halluc",
        "error_rate": "wrong",
        "ast_accuracy_strict": "AST-strict",
        "rouge_l": "ROUGE-L",
        "codebleu": "CodeBLEU",
        "executability": "exec",
    }
    print(f"{'hub':<14} {'n':>5} " + " ".join(f"{short[k]:>10}" for k in keys))
    for hub, block in results["hubs"].items():
        cells = []
        for k in keys:
            metric = block["metrics"].get(k)
            ok = metric and metric["value"] is not None
            cells.append(f"{100 * metric['value']:>9.1f}%" if ok else f"{'-':>10}")
        print(f"{hub:<14} {block['n']:>5} " + " ".join(cells))


def run(config: EvalConfig, args: argparse.Namespace) -> int:
    import json

    from gorilla_rlaif.eval import RESULTS_FILE, run_eval

    run_dir = run_eval(config)
    results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
    print_summary(results)
    print(f"wrote {run_dir / RESULTS_FILE} and {run_dir / 'samples.jsonl'}")
    return 0


COMMAND = Command(
    HELP,
    EvalConfig,
    run,
    flags=[
        positional("model", "MODEL"),
        flag("backend"),
        flag("hubs", "--hub", nargs="+", choices=()),
        flag("split"),
        flag("limit"),
        flag("data_dir"),
        *(
            flag(f"generation.{key}")
            for key in ("batch_size", "max_new_tokens", "temperature", "top_p", "seed", "device", "dtype")
        ),
        flag("num_runs"),
        flag(
            "llm.base_url", "--base-url", help="openai: an OpenAI-compatible server (default: the OpenAI API)"
        ),
        flag("llm.concurrency", "--concurrency"),
        flag("llm.max_retries", "--max-retries"),
        flag("cache"),
        flag("sandbox.backend", "--sandbox", choices=("docker", "local", "remote", "ray", "none")),
        flag("sandbox.url", "--sandbox-url", help="--sandbox remote: a gorilla-bench serve URL"),
        flag("sandbox.token_file", "--sandbox-token-file", help="--sandbox remote: its bearer token file"),
        flag("sandbox.ray_address", "--ray-address", help="--sandbox ray: the Ray cluster's address"),
        flag("sandbox.timeout_s", "--exec-timeout", help="seconds per snippet"),
        flag("sandbox.memory_mb", "--exec-memory-mb", help="memory per snippet, MB"),
        flag("sandbox.workers", "--exec-workers", help="snippets at once"),
        flag(
            "sandbox.model_cache",
            "--model-cache",
            help="a model cache mounted at /cache instead of the stand-in world (huggingface/, torch/, tfhub/)",
        ),
        flag("output_path", "--output-path", "-o"),
        flag("run_name"),
        flag("bootstrap"),
        flag("progress", "--no-progress", value=False, help="no progress bars"),
    ],
    outputs={"output_path": "dir"},
)

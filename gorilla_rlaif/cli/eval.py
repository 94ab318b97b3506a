"""Benchmark a model on APIBench: generate answers, execute their code in a sandbox, score them.

gorilla-bench eval runs/sft --hub torchhub --sandbox docker
gorilla-bench eval gorilla-llm/gorilla-7b-hf-v1 --hub hf tf torch --split eval --batch-size 16 --device cuda
gorilla-bench eval gpt-3.5-turbo --backend openai --hub torchhub --num-runs 3 --temperature 0.7  # key: OPENAI_API_KEY
gorilla-bench eval my-model --backend openai --base-url http://localhost:8000/v1 --hub torchhub   # vLLM/Ollama server
gorilla-bench eval runs/sft --hub torchhub --limit 20 --sandbox local --max-new-tokens 128        # quick check
gorilla-bench eval apibench-reference --backend reference --hub torchhub   # the ceiling: APIBench's own answers

Writes OUTPUT_PATH/MODEL/RUN/results.json (per hub: n, AST accuracy, hallucination, wrong-API rate,
strict AST accuracy, ROUGE-L, CodeBLEU, executability, each with a 95% interval; execution status
counts; config, versions and data hashes) and samples.jsonl (prompt, response, parsed sections,
verdicts and execution status per sample). RUN defaults to SPLIT-<hash of the settings>, so the
same command resumes an interrupted eval and a different one never mixes into it.
Generated code only ever runs in the sandbox: 'docker' (isolated, no network) or 'local'
(subprocess with limits, for machines without Docker); '--sandbox none' skips executability.
"""

from __future__ import annotations

import argparse

from gorilla_rlaif.data.schema import HUBS

HELP = "evaluate a model: AST accuracy, hallucination, ROUGE-L, CodeBLEU, executability"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="local model dir or Hub id (hf, vllm); chat model name (openai)")
    parser.add_argument(
        "--backend",
        choices=("hf", "openai", "vllm", "reference"),
        default="hf",
        help="hf: transformers; openai: any OpenAI-compatible chat API; vllm: optional extra (GPU); "
        "reference: APIBench's own answers, the ceiling of every metric (MODEL is then only a label)",
    )
    parser.add_argument(
        "--hub",
        nargs="+",
        help=f"APIBench hub(s): {', '.join(HUBS)} (aliases hf, tf, torch; default: all three)",
    )
    parser.add_argument(
        "--split",
        choices=("test", "eval"),
        default="test",
        help="test: held-out split our trainers never see (TorchHub: the whole eval file); "
        "eval: each hub's whole eval file, as Gorilla reports (default: test)",
    )
    parser.add_argument("--limit", type=int, help="only the first N prompts of each hub")
    parser.add_argument("--data-dir", help="a local directory holding APIBench files")
    gen = parser.add_argument_group("generation")
    gen.add_argument("--batch-size", type=int, default=8, help="prompts per generate call (hf, vllm)")
    gen.add_argument("--max-new-tokens", type=int, default=256)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--num-runs", type=int, default=1, help="runs with seeds SEED, SEED+1, ... (paper: 3)")
    gen.add_argument("--device", default="auto", help="hf: auto (cuda if visible), cpu, cuda, cuda:N")
    gen.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    api = parser.add_argument_group("openai backend")
    api.add_argument("--base-url", help="an OpenAI-compatible server (default: the OpenAI API)")
    api.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    api.add_argument("--max-retries", type=int, default=6, help="retries per request (429, 5xx, timeouts)")
    api.add_argument("--cache", help="SQLite answer cache (default OUTPUT_PATH/.cache/openai.sqlite)")
    ex = parser.add_argument_group("execution")
    ex.add_argument("--sandbox", choices=("docker", "local", "none"), default="docker")
    ex.add_argument("--exec-timeout", type=float, help="seconds per snippet (default: the harness's, 30)")
    ex.add_argument("--exec-memory-mb", type=int, help="memory per snippet (default: the harness's, 2048)")
    ex.add_argument("--exec-workers", type=int, help="snippets at once (default: the harness's)")
    ex.add_argument(
        "--model-cache",
        help="sandbox's stand-in models for the reference APIs (default ~/.cache/gorilla-rlaif/sandbox-models)",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--output-path", "-o", default="eval-results", help="results go to OUTPUT_PATH/MODEL/RUN/"
    )
    out.add_argument("--run-name", help="RUN directory name (default: SPLIT-<config hash>)")
    out.add_argument("--bootstrap", type=int, default=1000, help="resamples for 95%% intervals (0 = none)")
    out.add_argument("--no-progress", action="store_true")


def build_config(args: argparse.Namespace):
    from pydantic import ValidationError

    from gorilla_rlaif.errors import ConfigError
    from gorilla_rlaif.eval import EvalConfig

    values = {
        "model": args.model,
        "backend": args.backend,
        "split": args.split,
        "limit": args.limit,
        "data_dir": args.data_dir,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "seed": args.seed,
        "num_runs": args.num_runs,
        "device": args.device,
        "dtype": args.dtype,
        "base_url": args.base_url,
        "concurrency": args.concurrency,
        "cache": args.cache,
        "max_retries": args.max_retries,
        "sandbox": args.sandbox,
        "exec_timeout_s": args.exec_timeout,
        "exec_memory_mb": args.exec_memory_mb,
        "exec_workers": args.exec_workers,
        "model_cache": args.model_cache,
        "output_path": args.output_path,
        "run_name": args.run_name,
        "bootstrap": args.bootstrap,
        "progress": not args.no_progress,
    }
    if args.hub:
        values["hubs"] = args.hub
    try:
        return EvalConfig(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(problems) from None
    except (KeyError, ValueError) as exc:  # an unknown --hub name
        raise ConfigError(str(exc).strip("'\"")) from None


def print_summary(results: dict) -> None:
    from gorilla_rlaif.eval.score import METRICS

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


def run(args: argparse.Namespace) -> int:
    import json

    from gorilla_rlaif.eval import RESULTS_FILE, run_eval

    config = build_config(args)
    run_dir = run_eval(config)
    results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
    print_summary(results)
    print(f"wrote {run_dir / RESULTS_FILE} and {run_dir / 'samples.jsonl'}")
    return 0

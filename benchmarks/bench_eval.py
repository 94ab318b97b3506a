"""Speed of `gorilla-bench eval`: generated tokens/s of the hf backend batched vs one prompt at a
time, and where the wall time of an eval goes (generation / execution / scoring).

    .venv/bin/python benchmarks/bench_eval.py [--model DIR] [--prompts 32] [--max-new-tokens 64]
        [--batch-sizes 1 4 8 16] [--sandbox local|docker|none] [--exec-prompts 8]

Tokens are the tokens of the answers kept (up to the stop string), counted the same way for
every batch size, so the rows compare like for like; each batch size is timed `--repeat` times
and the best kept (the machine is shared). Default model: the toolkit's tiny GPT-2 (random
weights: it never stops early); pass a trained model (`--model runs/sft`) for realistic answers
whose code the sandbox runs.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def throughput(model: str, n: int, max_new_tokens: int, batch_sizes: list[int], repeat: int) -> list[dict]:
    from gorilla_rlaif.eval import EvalConfig
    from gorilla_rlaif.eval.backends import make_backend
    from gorilla_rlaif.eval.prompts import load_eval_prompts

    config = EvalConfig(
        model=model,
        hubs=["torchhub"],
        limit=n,
        generation={"max_new_tokens": max_new_tokens, "device": "cpu"},
    )
    prompts = load_eval_prompts(config)["torchhub"].prompts
    backend = make_backend(config)
    backend.complete(prompts[:2], seed=0)  # warm-up
    rows = []
    for size in batch_sizes:
        best = float("inf")
        for _ in range(repeat):  # best of `repeat`: the machine is shared, the minimum is the signal
            started = time.perf_counter()
            tokens = 0
            for i in range(0, len(prompts), size):
                tokens += sum(c.tokens or 0 for c in backend.complete(prompts[i : i + size], seed=0))
            best = min(best, time.perf_counter() - started)
        rows.append({"batch_size": size, "prompts": len(prompts), "tokens": tokens, "seconds": best})
    return rows


def split(model: str, n: int, max_new_tokens: int, sandbox: str, batch_size: int) -> dict:
    from gorilla_rlaif.eval import EvalConfig, run_eval

    with tempfile.TemporaryDirectory() as out:
        config = EvalConfig(
            model=model,
            hubs=["torchhub"],
            limit=n,
            generation={"max_new_tokens": max_new_tokens, "batch_size": batch_size, "device": "cpu"},
            sandbox=sandbox,
            output_path=out,
            progress=False,
        )
        started = time.perf_counter()
        run_dir = run_eval(config)
        total = time.perf_counter() - started
        timing = json.loads((run_dir / "results.json").read_text())["timing"]
    return {"total": total, **{k: v["seconds"] for k, v in timing.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model dir (default: the tiny model)")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per batch size (best is kept)")
    parser.add_argument("--sandbox", default="local", choices=("local", "docker", "none"))
    parser.add_argument("--exec-prompts", type=int, default=8, help="prompts for the wall-time split")
    args = parser.parse_args()

    model = args.model
    if model is None:
        from gorilla_rlaif.tiny import build_tiny_model

        model = str(build_tiny_model())
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores)")
    rows = throughput(model, args.prompts, args.max_new_tokens, args.batch_sizes, args.repeat)
    base = rows[0]["tokens"] / rows[0]["seconds"]
    print(
        f"\nhf backend, {model}, {args.prompts} TorchHub prompts, max_new_tokens={args.max_new_tokens}, greedy, CPU"
    )
    print("| batch size | tokens | seconds | tokens/s | speed-up |")
    print("|--:|--:|--:|--:|--:|")
    for r in rows:
        rate = r["tokens"] / r["seconds"]
        print(f"| {r['batch_size']} | {r['tokens']} | {r['seconds']:.2f} | {rate:.0f} | {rate / base:.2f}x |")

    t = split(model, args.exec_prompts, args.max_new_tokens, args.sandbox, max(args.batch_sizes))
    print(f"\nwall time of `gorilla-bench eval` on {args.exec_prompts} prompts, sandbox={args.sandbox}")
    print("| stage | seconds | share |")
    print("|---|--:|--:|")
    for stage in ("generation", "execution", "scoring"):
        print(f"| {stage} | {t.get(stage, 0):.2f} | {100 * t.get(stage, 0) / t['total']:.0f}% |")
    other = t["total"] - sum(t.get(s, 0) for s in ("generation", "execution", "scoring"))
    print(f"| model load, prompts, writing | {other:.2f} | {100 * other / t['total']:.0f}% |")
    print(f"| total | {t['total']:.2f} | 100% |")


if __name__ == "__main__":
    main()

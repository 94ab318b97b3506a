"""Sample candidate completions for each prompt with a transformers model (batched, seeded).

gorilla-rlaif generate runs/tiny-sft --prompts runs/splits/rm.jsonl --num-candidates 4 --output runs/candidates.jsonl
gorilla-rlaif generate MODEL --prompts P.jsonl -k 8 --temperature 1.0 --top-p 0.9 --seed 1 -o C.jsonl

Prompt rows come from `gorilla-rlaif data splits` (any split file) or are `{"id", "prompt"}`. Output
rows: id, prompt_id, prompt, completion (+ sample, hub, reference). Exact duplicates of a prompt's
earlier candidate are dropped. The generation config and model hashes go to OUTPUT.meta.json.
An interrupted run resumes where it stopped when re-run with the same arguments.
"""

from __future__ import annotations

import argparse

HELP = "sample K candidate completions per prompt (transformers, batched, seeded)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="local path or model id of a causal LM")
    parser.add_argument(
        "--prompts", required=True, help="JSONL of prompts (rows with id + prompt or instruction)"
    )
    parser.add_argument("--output", "-o", required=True, help="candidates JSONL (appended to / resumed)")
    parser.add_argument("--num-candidates", "-k", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (then -k 1)")
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per batch")
    parser.add_argument("--no-dedup", action="store_true", help="keep exact duplicate completions")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from gorilla_rlaif.errors import ConfigError
    from gorilla_rlaif.generate import CandidatesConfig, GenerationConfig, generate_candidates

    try:
        config = CandidatesConfig(
            prompts=args.prompts,
            output=args.output,
            limit=args.limit,
            generation=GenerationConfig(
                model=args.model,
                num_candidates=args.num_candidates,
                temperature=args.temperature,
                top_p=args.top_p,
                top_k=args.top_k,
                max_new_tokens=args.max_new_tokens,
                seed=args.seed,
                batch_size=args.batch_size,
                dedup=not args.no_dedup,
                device=args.device,
                dtype=args.dtype,
            ),
        )
    except ValidationError as exc:
        raise ConfigError("; ".join(e["msg"] for e in exc.errors())) from None
    counts = generate_candidates(config, progress=not args.no_progress)
    print(
        f"wrote {args.output}: {counts['candidates']} candidates for {counts['prompts']} prompts "
        f"({counts['duplicates_dropped_this_run']} duplicates dropped this run)"
    )
    return 0

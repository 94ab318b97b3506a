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

from gorilla_rlaif.cli.command import Command, flag, positional
from gorilla_rlaif.generate import CandidatesConfig

HELP = "sample K candidate completions per prompt (transformers, batched, seeded)"


def run(config: CandidatesConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.generate import generate_candidates

    counts = generate_candidates(config, progress=config.progress)
    print(
        f"wrote {config.output}: {counts['candidates']} candidates for {counts['prompts']} prompts "
        f"({counts['duplicates_dropped_this_run']} duplicates dropped this run)"
    )
    return 0


COMMAND = Command(
    HELP,
    CandidatesConfig,
    run,
    flags=[
        positional("generation.model", "MODEL"),
        flag("prompts"),
        flag("output", "--output", "-o"),
        flag("generation.num_candidates", "--num-candidates", "-k"),
        *(
            flag(f"generation.{key}")
            for key in ("temperature", "top_p", "top_k", "max_new_tokens", "seed", "batch_size")
        ),
        flag("generation.dedup", "--no-dedup", value=False, help="keep exact duplicate completions"),
        flag("generation.device"),
        flag("generation.dtype"),
        flag("limit"),
        flag("progress", "--no-progress", value=False, help="no progress bar"),
    ],
    outputs={"output": "file"},
)

"""Is a model better than another on the same questions? Paired tests between eval runs.

gorilla-bench compare eval-results/runs__sft/test-1a2b eval-results/runs__dpo/test-3c4d
gorilla-bench compare BASE_RUN CAND_RUN1 CAND_RUN2 --hub torchhub --output compare.json

Per metric: the per-question difference (candidate - baseline), averaged over questions and over
runs, with a 95% interval and a two-sided p-value from a bootstrap that resamples runs, then
questions; "no significant difference" unless p < 0.05. With `--num-runs N` on both evals, run r
of the candidate pairs with run r of the baseline (same seed). The runs must score the same split
of the same hub.
"""

from __future__ import annotations

import argparse

HELP = "paired comparison of eval runs on the same questions: difference, 95% interval, p-value"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", help="eval run directory (OUTPUT/MODEL/RUN) of the baseline")
    parser.add_argument("candidates", nargs="+", help="eval run directories to compare with it")
    parser.add_argument("--hub", help="which hub of the runs (default: the baseline's first)")
    parser.add_argument("--output", "-o", help="also write the numbers as JSON here")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from gorilla_rlaif.eval.compare import compare_runs, paired_markdown

    result = compare_runs(args.baseline, args.candidates, hub=args.hub)
    print(f"### {result['hub']}, {result['split']} split: against {result['baseline']}\n")
    print(paired_markdown(result["paired"], "baseline", runs_word="runs"))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"wrote {args.output}")
    return 0

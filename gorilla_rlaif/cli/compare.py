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

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.cli.command import Command, flag, positional
from gorilla_rlaif.data.sources import HubName

HELP = "paired comparison of eval runs on the same questions: difference, its interval and p-value"


class CompareConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: list[str] = Field(
        min_length=2,
        description="eval run directories (OUTPUT/MODEL/RUN): the baseline first, then candidates",
    )
    hub: HubName | None = Field(None, description="which hub of the runs (default: the baseline's first)")
    output: str | None = Field(None, description="also write the numbers as JSON here")


def run(config: CompareConfig, args: argparse.Namespace) -> int:
    import json

    from gorilla_rlaif.eval.compare import compare_runs, paired_markdown
    from gorilla_rlaif.io import write_text

    result = compare_runs(config.runs[0], config.runs[1:], hub=config.hub)
    print(f"### {result['hub']}, {result['split']} split: against {result['baseline']}\n")
    print(paired_markdown(result["paired"], "baseline", runs_word="runs"))
    if config.output:
        write_text(config.output, json.dumps(result, indent=2))
        print(f"wrote {config.output}")
    return 0


COMMAND = Command(
    HELP,
    CompareConfig,
    run,
    flags=[positional("runs", "RUN", nargs="+"), flag("hub"), flag("output", "--output", "-o")],
    outputs={"output": "file"},
)

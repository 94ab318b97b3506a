"""Compare every eval run under an output directory: a markdown table and a PNG bar chart.

gorilla-bench leaderboard eval-results

Reads OUTPUT/*/*/results.json and writes OUTPUT/leaderboard.md (one table per hub and split, best
AST accuracy first, values with 95% intervals) and OUTPUT/leaderboard.png (models x metrics).
"""

from __future__ import annotations

import argparse

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.cli.command import Command, flag, positional

HELP = "markdown table + PNG chart comparing all eval runs under OUTPUT"


class LeaderboardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output: str = Field(description="the --output-path of gorilla-bench eval")
    show: bool = Field(False, description="also print the markdown")


def run(config: LeaderboardConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.eval import build_leaderboard

    md, png = build_leaderboard(config.output)
    if config.show:
        print(md.read_text(encoding="utf-8"))
    print(f"wrote {md} and {png}")
    return 0


COMMAND = Command(
    HELP,
    LeaderboardConfig,
    run,
    flags=[positional("output", "OUTPUT"), flag("show", "--print", value=True)],
    outputs={"output": "dir"},
)

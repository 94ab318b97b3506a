"""Compare every eval run under an output directory: a markdown table and a PNG bar chart.

gorilla-bench leaderboard eval-results

Reads OUTPUT/*/*/results.json and writes OUTPUT/leaderboard.md (one table per hub and split, best
AST accuracy first, values with 95% intervals) and OUTPUT/leaderboard.png (models x metrics).
"""

from __future__ import annotations

import argparse

HELP = "markdown table + PNG chart comparing all eval runs under OUTPUT"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", help="the --output-path of gorilla-bench eval")
    parser.add_argument("--print", action="store_true", help="also print the markdown")


def run(args: argparse.Namespace) -> int:
    from gorilla_rlaif.eval import build_leaderboard

    md, png = build_leaderboard(args.output)
    if args.print:
        print(md.read_text(encoding="utf-8"))
    print(f"wrote {md} and {png}")
    return 0

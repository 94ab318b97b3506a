"""Re-score a finished (or interrupted) eval run from its saved samples, without generating again.

gorilla-bench report eval-results/runs__sft/test-1a2b3c4d5e

Use it after a metric or parser fix, or to rebuild a lost results.json. Each saved response is
checked against its SHA-256, parsed and scored again; execution results are reused by code hash
(only code never executed before goes to the sandbox). results.json is rewritten; the previous
numbers stay in it under `rescored.previous`.
"""

from __future__ import annotations

import argparse

HELP = "re-score the saved samples of an eval run (no generation)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="an eval run directory: OUTPUT/MODEL/RUN/")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from gorilla_rlaif.cli.eval import print_summary
    from gorilla_rlaif.eval import rescore

    record = rescore(args.run_dir, progress=not args.no_progress)
    print_summary(record)
    info = record["rescored"]
    print(
        f"re-scored {args.run_dir}: {info['changed_ast_verdicts']} AST verdict(s) and "
        f"{info['changed_exec_status']} execution status(es) changed"
    )
    return 0

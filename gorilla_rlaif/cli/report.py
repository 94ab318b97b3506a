"""Re-score a finished (or interrupted) eval run from its saved samples, without generating again.

gorilla-bench report eval-results/runs__sft/test-1a2b3c4d5e

Use it after a metric or parser fix, or to rebuild a lost results.json. Each saved response is
checked against its SHA-256, parsed and scored again; execution results are reused by code hash
(only code never executed before goes to the sandbox). results.json is rewritten; the previous
numbers stay in it under `rescored.previous`.
"""

from __future__ import annotations

import argparse

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.cli.command import Command, flag, positional
from gorilla_rlaif.config import operational

HELP = "re-score the saved samples of an eval run (no generation)"


class ReportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_dir: str = Field(description="an eval run directory: OUTPUT/MODEL/RUN/")
    progress: bool = operational(True, description="progress bars")


def run(config: ReportConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.cli.eval import print_summary
    from gorilla_rlaif.eval import rescore

    record = rescore(config.run_dir, progress=config.progress)
    print_summary(record)
    info = record["rescored"]
    print(
        f"re-scored {config.run_dir}: {info['changed_ast_verdicts']} AST verdict(s) and "
        f"{info['changed_exec_status']} execution status(es) changed"
    )
    return 0


COMMAND = Command(
    HELP,
    ReportConfig,
    run,
    flags=[
        positional("run_dir", "RUN_DIR"),
        flag("progress", "--no-progress", value=False, help="no progress bars"),
    ],
    outputs={"run_dir": "dir"},
)

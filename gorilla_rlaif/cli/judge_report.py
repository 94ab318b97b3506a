"""How good is the judge? Compare its answers with the ground truth of the checkable questions.

gorilla-rlaif judge-report runs/feedback.jsonl --hub torchhub
gorilla-rlaif judge-report runs/feedback-hf.jsonl -o runs/judge-hf --sandbox docker
gorilla-rlaif judge-report F.jsonl --sandbox none bins=5          # static checks and AST only

Works on any feedback file (`rules`, `hf:PATH`, `openai:MODEL` judges). Ground truth: `syntax`
(compile), `imports` and `undefined_names` (pyflakes), `api_exists`, `api_fits`, `arguments`
(Gorilla's AST match against the gold API), `bug_free` (the code ran in the sandbox). Reported per
question: accuracy, majority baseline, precision/recall of "yes", kappa, and, where the judge
gave P(yes), Brier score, calibration error and a reliability diagram; plus how well the judge's
score predicts executability (ROC AUC, Spearman, executability per score).

Writes OUTPUT_DIR/{judge_quality.md, judge_quality.json, judge_quality.png, rows.jsonl,
executions.jsonl}; default OUTPUT_DIR: next to FEEDBACK, `<name>.judge-report/`. Code runs are
resumable (executions.jsonl).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gorilla_rlaif.cli.command import Command, flag, positional, split_positionals
from gorilla_rlaif.eval.judge_quality import JudgeReportConfig

HELP = "measure a judge against checkable ground truth: per-question accuracy, calibration, score vs executability"


def _defaults(args: argparse.Namespace) -> dict[str, Any]:
    """The output directory follows the feedback file unless one is given."""
    given, _ = split_positionals(COMMAND, getattr(args, "_positionals", None) or [])
    if "feedback" not in given:
        return {}
    feedback = Path(given["feedback"])
    return {"output_dir": str(feedback.with_name(feedback.name.removesuffix(".jsonl") + ".judge-report"))}


def run(config: JudgeReportConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.eval.judge_quality import PLOT_FILE, TABLE_FILE, judge_report

    judge_report(config)
    out = Path(config.output_dir)
    print((out / TABLE_FILE).read_text(encoding="utf-8").strip())
    print(f"\nwrote {out / TABLE_FILE}, {out / PLOT_FILE} and the per-candidate rows in {out}")
    return 0


COMMAND = Command(
    HELP,
    JudgeReportConfig,
    run,
    flags=[
        positional("feedback", "FEEDBACK"),
        flag("output_dir", "--output-dir", "-o"),
        flag("hub"),
        flag("sandbox", choices=("local", "docker", "none"), help="where code runs (default: local)"),
        flag("progress", "--no-progress", value=False),
    ],
    outputs={"output_dir": "dir"},
    preset=_defaults,
)

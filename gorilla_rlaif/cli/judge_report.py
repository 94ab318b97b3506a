"""How good is the judge? Compare its answers with the ground truth of the checkable questions.

gorilla-rlaif judge-report runs/feedback.jsonl --hub torchhub
gorilla-rlaif judge-report runs/feedback-hf.jsonl -o runs/judge-hf --sandbox docker
gorilla-rlaif judge-report F.jsonl bins=5 --sandbox none          # static checks and AST only

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

HELP = "measure a judge against checkable ground truth: per-question accuracy, calibration, score vs executability"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("feedback", help="feedback JSONL written by `gorilla-rlaif label`")
    parser.add_argument("--output-dir", "-o", help="default: FEEDBACK's directory/<name>.judge-report")
    parser.add_argument("--hub", help="API database for rows without a hub field (default torchhub)")
    parser.add_argument(
        "--sandbox", choices=("local", "docker", "none"), help="where code runs (default local)"
    )
    parser.add_argument("--config", "-c", help="YAML file of JudgeReportConfig keys")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="any JudgeReportConfig key, e.g. exec_timeout_s=10 bins=5",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gorilla_rlaif.config import load_config
    from gorilla_rlaif.judge.quality import PLOT_FILE, TABLE_FILE, JudgeReportConfig, judge_report

    feedback = Path(args.feedback)
    base = {
        "feedback": str(feedback),
        "output_dir": args.output_dir
        or str(feedback.with_name(feedback.name.removesuffix(".jsonl") + ".judge-report")),
    }
    if args.hub:
        base["hub"] = args.hub
    if args.sandbox:
        base["sandbox"] = args.sandbox
    if args.no_progress:
        base["progress"] = False
    config = load_config(JudgeReportConfig, args.config, args.overrides, base=base)
    judge_report(config)
    out = Path(config.output_dir)
    print((out / TABLE_FILE).read_text(encoding="utf-8").strip())
    print(f"\nwrote {out / TABLE_FILE}, {out / PLOT_FILE} and the per-candidate rows in {out}")
    return 0

"""The metrics every report shows, in one order, with their labels: results.json keys, the eval
summary, the leaderboard, the pipeline's table and model cards all read this one list."""

from __future__ import annotations

# (key in results.json, label, higher is better)
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("ast_accuracy", "AST accuracy", True),
    ("hallucination_rate", "Hallucination", False),
    ("error_rate", "Wrong API", False),
    ("ast_accuracy_strict", "AST accuracy (strict)", True),
    ("rouge_l", "ROUGE-L", True),
    ("codebleu", "CodeBLEU", True),
    ("executability", "Executability", True),
)
METRIC_LABELS = {key: label for key, label, _ in METRICS}

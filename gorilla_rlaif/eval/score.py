"""Scoring a hub's responses and turning per-sample verdicts into the numbers of results.json.

The metrics themselves (Gorilla's AST matching and hallucination, ROUGE-L, CodeBLEU) live in
`gorilla_rlaif.metrics`; this module only calls `score_responses` once per (hub, run) and
aggregates. Every summary number is recomputed here from the per-sample rows, so a number in
results.json can always be re-derived from samples.jsonl alone (what `gorilla-bench report` checks),
and so several runs can be pooled: each metric's 95% interval is a bootstrap over *questions* of
the per-question mean over runs (resampling questions, the unit that varies between benchmarks,
not runs of the same question).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from gorilla_rlaif.metrics.names import METRICS

# key, label, True if higher is better

NO_CODE = "no_code"  # the response has no `code` section: nothing to execute


def score_hub(
    hub: str,
    rows: Sequence[dict[str, Any]],
    records: Sequence[Any],
    *,
    seed: int = 0,
    matcher: Any = None,
) -> list[dict[str, Any]]:
    """Per-sample verdicts for `rows` (samples of one hub and one run), in the order of `rows`.

    `score_responses` with `bootstrap=0`: intervals are computed once, over all runs, by
    `aggregate_hub`. Each verdict carries the SHA-256 of the response it judged."""
    from gorilla_rlaif.metrics import score_responses

    responses = [{"question_id": row["question_id"], "text": row["response"]} for row in rows]
    report = score_responses(hub, responses, records=list(records), bootstrap=0, seed=seed, matcher=matcher)
    out = []
    for row, verdict in zip(rows, report.row_dicts(), strict=True):
        if verdict.pop("question_id") != row["question_id"]:
            raise RuntimeError(f"score rows out of order at sample {row['id']}")
        verdict["response_sha256"] = row["response_sha256"]
        out.append(verdict)
    return out


def matcher_for(hub: str, data_dir: str | None = None) -> Any:
    """The hub's API database parsed once for all runs (the matcher indexes it by callee)."""
    from gorilla_rlaif.data import load_api_db
    from gorilla_rlaif.metrics import ApiMatcher

    return ApiMatcher.from_db(load_api_db(hub, data_dir=data_dir))


def sample_values(row: dict[str, Any]) -> dict[str, float | None]:
    """The numbers one sample contributes to each metric (None = not measured for it)."""
    score = row.get("score") or {}
    verdict = score.get("ast_verdict")
    out: dict[str, float | None] = {
        "ast_accuracy": float(verdict == "correct"),
        "hallucination_rate": float(verdict == "hallucination"),
        "error_rate": float(verdict == "error"),
        "ast_accuracy_strict": float(bool(score.get("strict_correct"))),
        "rouge_l": _number(score.get("rouge_l")),
        "codebleu": _number(score.get("codebleu")),
    }
    execution = row.get("exec")
    out["executability"] = None if execution is None else float(execution.get("status") == "ok")
    return out


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _ci(values: list[float], bootstrap: int, seed: int) -> list[float] | None:
    if bootstrap <= 0 or len(values) < 2:
        return None
    from gorilla_rlaif.metrics.stats import bootstrap_ci

    low, high = bootstrap_ci(values, n=bootstrap, seed=seed, confidence=0.95)
    return [round(low, 6), round(high, 6)]


def aggregate_hub(
    rows: Sequence[dict[str, Any]], num_runs: int, *, bootstrap: int, seed: int
) -> dict[str, Any]:
    """results.json's block for one hub: n, every metric with a 95% interval, runs, exec counts."""
    by_question: dict[int, list[dict[str, float | None]]] = {}
    by_run: dict[int, list[dict[str, float | None]]] = {}
    status_by_run: dict[int, Counter[str]] = {}
    for row in rows:
        values = sample_values(row)
        by_question.setdefault(row["question_id"], []).append(values)
        by_run.setdefault(row["run"], []).append(values)
        status = (row.get("exec") or {}).get("status")
        if status is not None:
            status_by_run.setdefault(row["run"], Counter())[status] += 1
    metrics: dict[str, Any] = {}
    for key, _label, _higher in METRICS:
        per_run = []
        for run in sorted(by_run):
            vals = [v[key] for v in by_run[run] if v[key] is not None]
            if vals:
                per_run.append(sum(vals) / len(vals))
        if not per_run:
            if key != "executability":  # no sample had code: measured, nothing to average
                metrics[key] = {"value": None, "ci95": None, "n": 0, "runs": [], "std": None}
            continue  # executability without a sandbox: not measured at all
        per_question = []
        for vals in by_question.values():
            measured = [v[key] for v in vals if v[key] is not None]
            if measured:
                per_question.append(sum(measured) / len(measured))
        metrics[key] = {
            "value": round(sum(per_run) / len(per_run), 6),
            "ci95": _ci(per_question, bootstrap, seed),
            "n": len(per_question),
            "runs": [round(v, 6) for v in per_run],
            "std": round(statistics.stdev(per_run), 6) if len(per_run) > 1 else 0.0,
        }
    total: Counter[str] = Counter()
    for counter in status_by_run.values():
        total.update(counter)
    execution = None
    if total:
        executed = sum(total.values())
        no_hub = executed - total.get("hub_error", 0)
        execution = {
            "counts": dict(sorted(total.items())),
            "runs": [dict(sorted(status_by_run.get(r, Counter()).items())) for r in sorted(by_run)],
            # the harness's second view: hub_error (a model id the offline cache does not hold) is
            # the sandbox's limit, not the code's fault, so it is also reported left out
            "executability_excluding_hub_error": round(total.get("ok", 0) / no_hub, 6) if no_hub else None,
        }
    return {
        "n": len(by_question),
        "num_runs": num_runs,
        "samples": len(rows),
        "metrics": metrics,
        "execution": execution,
    }

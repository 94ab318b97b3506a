"""How good is a judge? Its answers against the answers that can be checked: `gorilla-rlaif judge-report`.

Several rubric questions have a verifiable answer. For every judged candidate of a feedback file
(any judge: rules, `hf:`, `openai:`), this module computes that ground truth and compares:

| question          | ground truth ("yes" when ...)                                           | from            |
|-------------------|-------------------------------------------------------------------------|-----------------|
| `syntax`          | the code section compiles (no code section: no)                         | `compile`       |
| `imports`         | no undefined name is used as a module, class or function (called, or an | pyflakes + ast  |
|                   | attribute read from it); unknown when the code does not compile          |                 |
| `undefined_names` | pyflakes reports an undefined name (desirable: no); unknown when the    | pyflakes        |
|                   | code does not compile                                                   |                 |
| `bug_free`        | the code ran without error in the sandbox (status `ok`; a sandbox       | the harness     |
|                   | failure is unknown)                                                     |                 |
| `api_exists`      | Gorilla's AST matcher finds the called API in the hub's database (an    | Gorilla's AST   |
|                   | answer without an API call has none)                                    |                 |
| `api_fits`        | Gorilla's AST verdict is `correct` (the API has the gold API's domain)  | AST + gold API  |
| `arguments`       | the strict match: the gold API with its identifying argument values     | AST + gold API  |
| `complete`        | (none: not verifiable)                                                  |                 |

The code checked is exactly what the eval runs: the response's `code` section as written. Per
question: accuracy (with a bootstrap interval), the accuracy of always answering the majority
truth, precision and recall of the judge's "yes", Cohen's kappa; where the judge gave P(yes)
(`hf:` and `openai:` per-question mode), the Brier score, the expected calibration error and a
reliability diagram. And whether the judge's score tracks what matters: the executability rate
per score, the ROC AUC of the score for "the code runs", and Spearman's rho.

The rules judge answers `api_exists`, `api_fits` and `arguments` with the same AST matcher, so
agreement there is by construction; its other answers come from its own heuristics and are a
real test. An LLM judge is tested on all seven.

Outputs in `output_dir`: `rows.jsonl` (per candidate: answers, P(yes), truth, exec status),
`judge_quality.json` (the summary), `judge_quality.md` (tables), `judge_quality.png` (executability
by score; reliability diagrams when there are probabilities), `executions.jsonl` (the sandbox's
results, resumable).
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gorilla_rlaif.config import operational
from gorilla_rlaif.data.sources import HubName
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.harness.config import SandboxConfig, sandbox_by_name
from gorilla_rlaif.io import write_json, write_jsonl, write_text

log = logging.getLogger(__name__)

ROWS_FILE = "rows.jsonl"
SUMMARY_FILE = "judge_quality.json"
TABLE_FILE = "judge_quality.md"
PLOT_FILE = "judge_quality.png"
EXECUTIONS_FILE = "executions.jsonl"
# question id -> where its ground truth comes from (the table above); `complete` has none
TRUTH_SOURCES = {
    "syntax": "compile",
    "imports": "pyflakes + ast",
    "undefined_names": "pyflakes",
    "bug_free": "sandbox",
    "api_exists": "AST match",
    "api_fits": "AST match + gold API",
    "arguments": "strict AST match + gold API",
}
RUNS = "ok"  # the sandbox status of code that ran


def _local_sandbox() -> SandboxConfig:
    return SandboxConfig(backend="local")


class JudgeReportConfig(BaseModel):
    """What `gorilla-rlaif judge-report` checks, how it runs the code, where results go."""

    model_config = ConfigDict(extra="forbid")

    feedback: str = Field(description="feedback JSONL written by `gorilla-rlaif label` (any judge)")
    output_dir: str = Field(description="rows, summary, tables and plot land here")
    hub: HubName | None = Field(None, description="API database for rows without a `hub` (default torchhub)")
    data_dir: str | None = Field(None, description="local APIBench directory (else Hub, else bundled copy)")
    # how code runs: the harness's SandboxConfig, whole, as in `gorilla-bench eval`
    sandbox: SandboxConfig | None = Field(
        default_factory=_local_sandbox,
        description="where candidates' code runs for `bug_free` and executability: local, docker, or "
        "none (skip both); a backend name or the harness's whole SandboxConfig",
    )
    # statistics
    bins: int = Field(10, ge=2, le=50, description="calibration bins (equal width over P(yes))")
    bootstrap: int = Field(1000, ge=0, le=100_000, description="resamples for the 95% intervals")
    seed: int = Field(0, description="seed of the bootstrap")
    progress: bool = operational(True, description="progress bars")

    @field_validator("sandbox", mode="before")
    @classmethod
    def _sandbox_by_name(cls, value: Any) -> Any:
        return sandbox_by_name(value)


# ---- ground truth ---------------------------------------------------------------------------------
def static_truth(code: str | None) -> dict[str, bool | None]:
    """`syntax`, `imports`, `undefined_names` from the code alone (see the module table)."""
    if not code or not code.strip():
        return {"syntax": False, "imports": None, "undefined_names": None}
    try:
        tree = ast.parse(code)
        compile(tree, "<candidate>", "exec")
    except (SyntaxError, ValueError):
        return {"syntax": False, "imports": None, "undefined_names": None}
    from pyflakes import checker, messages

    undefined = {
        m.message_args[0]
        for m in checker.Checker(tree, filename="<candidate>").messages
        if isinstance(m, (messages.UndefinedName, messages.UndefinedLocal))
    }
    used_as_module = {
        node.value.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    } | {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    return {
        "syntax": True,
        "imports": not (undefined & used_as_module),
        "undefined_names": bool(undefined),
    }


def ast_truth(completion: str, reference: dict[str, Any] | None, matcher: Any) -> dict[str, Any]:
    """`api_exists`, `api_fits`, `arguments` from Gorilla's AST matcher (the last two need the
    gold API: None without one), and the verdict itself."""
    exists = matcher.match(completion) is not None
    if reference and reference.get("api_call"):
        v = matcher.verdict(completion, reference.get("domain"), reference["api_call"])
        return {
            "api_exists": exists,
            "api_fits": v.verdict == "correct",
            "arguments": bool(v.strict_correct),
            "ast_verdict": v.verdict,
        }
    return {"api_exists": exists, "api_fits": None, "arguments": None}


def exec_truth(status: str | None) -> bool | None:
    """`bug_free` from a sandbox status: ran = yes; the harness's own failure = unknown."""
    if status is None or status == "sandbox_error":
        return None
    return status == RUNS


# ---- statistics -----------------------------------------------------------------------------------
def _rate(values: Sequence[float], config: JudgeReportConfig) -> dict[str, Any]:
    from gorilla_rlaif.metrics.stats import estimate

    return estimate(list(values), n=config.bootstrap, seed=config.seed)


def question_stats(pairs: Sequence[tuple[bool, bool]], config: JudgeReportConfig) -> dict[str, Any]:
    """(judge says yes, truth is yes) pairs -> accuracy, majority baseline, precision, recall, kappa."""
    n = len(pairs)
    if not n:
        return {"n": 0}
    tp = sum(j and t for j, t in pairs)
    fp = sum(j and not t for j, t in pairs)
    fn = sum((not j) and t for j, t in pairs)
    accuracy = (n - fp - fn) / n
    judge_yes = (tp + fp) / n
    truth_yes = (tp + fn) / n
    chance = judge_yes * truth_yes + (1 - judge_yes) * (1 - truth_yes)
    return {
        "n": n,
        "judge_yes_rate": judge_yes,
        "truth_yes_rate": truth_yes,
        "accuracy": _rate([float(j == t) for j, t in pairs], config),
        "majority_baseline": max(truth_yes, 1 - truth_yes),
        "precision_yes": tp / (tp + fp) if tp + fp else None,
        "recall_yes": tp / (tp + fn) if tp + fn else None,
        "kappa": (accuracy - chance) / (1 - chance) if chance < 1 else None,
    }


def calibration(probs: Sequence[float], truth: Sequence[bool], bins: int) -> dict[str, Any]:
    """Brier score, expected calibration error (equal-width bins) and the reliability curve."""
    p = np.asarray(probs, dtype=float)
    y = np.asarray(truth, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    curve, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            mean_p, freq = float(p[mask].mean()), float(y[mask].mean())
            curve.append(
                {
                    "bin": [float(edges[b]), float(edges[b + 1])],
                    "n": int(mask.sum()),
                    "p": mean_p,
                    "yes": freq,
                }
            )
            ece += mask.sum() / len(p) * abs(mean_p - freq)
    return {"n": len(p), "brier": float(np.mean((p - y) ** 2)), "ece": float(ece), "curve": curve}


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), as Spearman's rho and the AUC need."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def score_vs_execution(
    scores: Sequence[float], runs: Sequence[bool], config: JudgeReportConfig
) -> dict[str, Any]:
    """Does a higher judge score mean code that runs? AUC (P(score of a running snippet > score of
    a failing one), ties count half), Spearman's rho, and the executability rate per score."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(runs, dtype=bool)
    out: dict[str, Any] = {"n": len(s), "executability": float(y.mean()) if len(y) else None}
    by_score: dict[str, Any] = {}
    for value in sorted(set(s.tolist())):
        mask = s == value
        by_score[f"{value:g}"] = {"n": int(mask.sum()), "executability": float(y[mask].mean())}
    out["by_score"] = by_score
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return {**out, "auc": None, "spearman": None}
    ranks = _ranks(s)
    auc = (ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    rho = float(np.corrcoef(ranks, _ranks(y.astype(float)))[0, 1]) if s.std() > 0 else None
    interval = None
    if config.bootstrap:
        rng = np.random.default_rng(config.seed)
        pos, neg = s[y], s[~y]
        draws = []
        for _ in range(config.bootstrap):
            a = rng.choice(pos, len(pos))
            b = rng.choice(neg, len(neg))
            draws.append((a[:, None] > b[None, :]).mean() + 0.5 * (a[:, None] == b[None, :]).mean())
        interval = [float(v) for v in np.quantile(draws, [0.025, 0.975])]
    return {**out, "auc": float(auc), "auc_ci95": interval, "spearman": rho}


def summarize_quality(rows: Sequence[dict[str, Any]], config: JudgeReportConfig) -> dict[str, Any]:
    """The whole summary from quality rows (`rows.jsonl`), so reports can pool several files."""
    if not rows:
        raise DataError("no judged rows (status ok) to compare with the ground truth", path=config.feedback)
    questions = list(rows[0]["answers"])
    per_question: dict[str, Any] = {}
    for q in questions:
        if q not in TRUTH_SOURCES:
            per_question[q] = {"truth": None, "judge_yes_rate": _yes_rate(rows, q)}
            continue
        known = [r for r in rows if r["truth"].get(q) is not None and r["answers"].get(q) in ("yes", "no")]
        stats = question_stats([(r["answers"][q] == "yes", bool(r["truth"][q])) for r in known], config)
        stats["truth"] = TRUTH_SOURCES[q]
        probs = [
            (r["p_yes"][q], bool(r["truth"][q])) for r in known if (r.get("p_yes") or {}).get(q) is not None
        ]
        if probs:
            stats["calibration"] = calibration([p for p, _ in probs], [t for _, t in probs], config.bins)
        per_question[q] = stats
    executed = [r for r in rows if r.get("runs") is not None]
    out: dict[str, Any] = {
        "rows": len(rows),
        "judge": rows[0].get("judge"),
        "questions": per_question,
        "executed": len(executed),
    }
    if executed:
        out["score_vs_execution"] = score_vs_execution(
            [r["score"] for r in executed], [bool(r["runs"]) for r in executed], config
        )
        weighted = [r for r in executed if r.get("weighted_score") is not None]
        if weighted:
            out["weighted_score_vs_execution"] = score_vs_execution(
                [r["weighted_score"] for r in weighted], [bool(r["runs"]) for r in weighted], config
            )
    return out


def _yes_rate(rows: Sequence[dict[str, Any]], q: str) -> float | None:
    answered = [r["answers"].get(q) for r in rows if r["answers"].get(q) in ("yes", "no")]
    return sum(a == "yes" for a in answered) / len(answered) if answered else None


# ---- the report -----------------------------------------------------------------------------------
def quality_rows(config: JudgeReportConfig) -> list[dict[str, Any]]:
    """Per judged candidate: its answers, P(yes) and score, the ground truth, the exec status."""
    from gorilla_rlaif.data import normalize_hub, parse_completion
    from gorilla_rlaif.eval.execute import exec_field, execute_codes
    from gorilla_rlaif.eval.score import matcher_for
    from gorilla_rlaif.publish.build import read_feedback

    feedback, _ = read_feedback([config.feedback])
    ok = [r for r in feedback if r.status == "ok"]
    log.info("%s: %d of %d rows judged ok", config.feedback, len(ok), len(feedback))
    hubs = {r.id: normalize_hub(r.hub or config.hub or "torchhub") for r in ok}
    matchers = {hub: matcher_for(hub, config.data_dir) for hub in set(hubs.values())}
    samples = [{"id": r.id, "parsed": parse_completion(r.completion)} for r in ok]
    codes = [s["parsed"]["code"] for s in samples if (s["parsed"].get("code") or "").strip()]
    out_dir = Path(config.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = execute_codes(config, codes, out_dir / EXECUTIONS_FILE)
    rows = []
    for row, sample in zip(ok, samples, strict=True):
        reference = row.reference.model_dump() if row.reference else None
        truth: dict[str, Any] = static_truth(sample["parsed"].get("code"))
        found = ast_truth(row.completion, reference, matchers[hubs[row.id]])
        verdict = found.pop("ast_verdict", None)
        truth.update(found)
        status = None
        if config.sandbox is not None:
            status = exec_field(sample, executed, config.sandbox.backend)["status"]
        truth["bug_free"] = exec_truth(status)
        judge = row.judge
        rows.append(
            {
                "id": row.id,
                "prompt_id": row.prompt_id,
                "hub": hubs[row.id],
                "score": row.score,
                "weighted_score": row.weighted_score,
                "answers": row.answers,
                "p_yes": row.p_yes,
                "truth": truth,
                "ast_verdict": verdict,
                "exec_status": status,
                "runs": truth["bug_free"],
                "judge": {k: getattr(judge, k, None) for k in ("backend", "model", "mode", "rubric")},
            }
        )
    return rows


def judge_report(config: JudgeReportConfig) -> dict[str, Any]:
    """Compute the ground truth, compare the judge with it, write the outputs; return the summary."""
    from gorilla_rlaif.io import sha256_file
    from gorilla_rlaif.provenance import provenance

    rows = quality_rows(config)
    out_dir = Path(config.output_dir)
    write_jsonl(out_dir / ROWS_FILE, rows)
    summary = summarize_quality(rows, config)
    record = provenance(config, inputs={config.feedback: sha256_file(config.feedback)}, **summary)
    write_json(out_dir / SUMMARY_FILE, record)
    write_text(out_dir / TABLE_FILE, quality_markdown(summary))
    render_quality_plot(summary, out_dir / PLOT_FILE)
    return summary


def _pct(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("value")
    return "–" if value is None else f"{100 * value:.1f}"


def quality_markdown(summary: dict[str, Any], title: str | None = None) -> str:
    """The per-question table and the score-vs-executability line, in markdown."""
    judge = summary.get("judge") or {}
    name = judge.get("backend") + (f":{judge['model']}" if judge.get("model") else "") if judge else "?"
    lines = [
        title
        or f"### Judge quality: `{name}` against checkable answers ({summary['rows']} judged candidates)",
        "",
        "Percentages. Accuracy with [95% bootstrap interval]; majority: always giving the most common "
        'true answer; precision and recall of the judge\'s "yes"; kappa: agreement beyond chance.',
        "",
        "| question | ground truth from | n | judge yes | true yes | accuracy | majority | precision | recall | kappa | Brier | ECE |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for q, s in summary["questions"].items():
        if not s.get("truth"):
            lines.append(
                f"| {q} | (not checkable) | – | {_pct(s.get('judge_yes_rate'))} | – | – | – | – | – | – | – | – |"
            )
            continue
        if not s.get("n"):
            lines.append(f"| {q} | {s['truth']} | 0 | – | – | – | – | – | – | – | – | – |")
            continue
        acc = s["accuracy"]
        acc_text = _pct(acc) + (
            f" [{_pct(acc['ci95'][0])}, {_pct(acc['ci95'][1])}]"
            if acc.get("ci95") and acc["ci95"][0] is not None
            else ""
        )
        cal = s.get("calibration") or {}
        kappa = "–" if s.get("kappa") is None else f"{s['kappa']:.2f}"
        brier = "–" if "brier" not in cal else f"{cal['brier']:.3f}"
        ece = "–" if "ece" not in cal else f"{100 * cal['ece']:.1f}"
        lines.append(
            f"| {q} | {s['truth']} | {s['n']} | {_pct(s['judge_yes_rate'])} | {_pct(s['truth_yes_rate'])} | "
            f"{acc_text} | {_pct(s['majority_baseline'])} | {_pct(s['precision_yes'])} | {_pct(s['recall_yes'])} | "
            f"{kappa} | {brier} | {ece} |"
        )
    for key, label in (("score_vs_execution", "score"), ("weighted_score_vs_execution", "weighted score")):
        sv = summary.get(key)
        if not sv:
            continue
        auc = "–" if sv.get("auc") is None else f"{sv['auc']:.3f}"
        if sv.get("auc_ci95"):
            auc += f" [{sv['auc_ci95'][0]:.3f}, {sv['auc_ci95'][1]:.3f}]"
        rho = "–" if sv.get("spearman") is None else f"{sv['spearman']:.3f}"
        per = ", ".join(f"{k}: {_pct(v['executability'])}% of {v['n']}" for k, v in sv["by_score"].items())
        lines += [
            "",
            f"Judge {label} vs. executability ({sv['n']} candidates run in the sandbox, "
            f"{_pct(sv['executability'])}% ran): ROC AUC {auc}, Spearman {rho}. "
            f"Executability by {label}: {per}."
            if label == "score"
            else f"Judge {label} vs. executability: ROC AUC {auc}, Spearman {rho}.",
        ]
    return "\n".join(lines) + "\n"


def render_quality_plot(summary: dict[str, Any], path: Path) -> None:
    """Executability rate by judge score; a reliability diagram when the judge gave P(yes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calibrated = {q: s["calibration"] for q, s in summary["questions"].items() if s.get("calibration")}
    panels = 1 + bool(calibrated)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.0), squeeze=False)
    ax = axes[0][0]
    sv = summary.get("score_vs_execution")
    if sv and sv["by_score"]:
        keys = list(sv["by_score"])
        positions = range(len(keys))
        ax.bar(positions, [100 * sv["by_score"][k]["executability"] for k in keys], color="tab:blue")
        ax.set_xticks(list(positions), keys)
        for i, k in enumerate(keys):
            ax.annotate(f"n={sv['by_score'][k]['n']}", (i, 101), ha="center", fontsize=7)
        ax.set_title(
            f"executability by judge score (AUC {sv['auc']:.2f})"
            if sv.get("auc") is not None
            else "executability by judge score"
        )
    else:
        ax.set_title("no code was run (sandbox none)")
    ax.set_xlabel("judge score")
    ax.set_ylabel("% of candidates whose code ran")
    ax.set_ylim(0, 105)
    if calibrated:
        ax = axes[0][1]
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        for q, cal in calibrated.items():
            ax.plot(
                [c["p"] for c in cal["curve"]],
                [c["yes"] for c in cal["curve"]],
                marker="o",
                markersize=3,
                label=f"{q} (ECE {100 * cal['ece']:.0f})",
            )
        ax.set_xlabel("judge's P(yes)")
        ax.set_ylabel("share truly yes")
        ax.set_title("reliability diagram")
        ax.legend(fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = [
    "TRUTH_SOURCES",
    "JudgeReportConfig",
    "calibration",
    "judge_report",
    "quality_markdown",
    "quality_rows",
    "question_stats",
    "score_vs_execution",
    "static_truth",
    "summarize_quality",
]

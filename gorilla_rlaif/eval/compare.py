"""Paired comparisons of eval runs on the same questions: `gorilla-bench compare BASELINE CANDIDATE...`.

Two models answered the same test questions; the question is whether one is better, and by how
much, beyond noise. Per metric, the per-question difference (candidate - baseline) is averaged
over questions and over runs; its 95% interval and p-value come from
`gorilla_rlaif.metrics.stats.paired_comparison` (a bootstrap over runs, then questions). Runs
pair by index: run r of the candidate with run r of the baseline (`--num-runs` seeds seed+r on
both sides; in the pipeline, the RL model of seed s with the SFT model of seed s).

The values are re-derived from each run's `samples.jsonl` (`eval.score.sample_values`), so the
comparison uses exactly the verdicts that made `results.json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import DataError
from gorilla_rlaif.metrics.names import PAPER_METRICS as METRICS

QuestionValues = dict[str, dict[int, float]]  # metric -> question_id -> value


def question_values(run_dir: str | Path, hub: str, *, mean_over_runs: bool = False) -> list[QuestionValues]:
    """Per run of an eval (by run index), metric -> question -> value; or one entry, the mean over
    runs, with `mean_over_runs`."""
    from gorilla_rlaif.eval.run import SAMPLES_FILE
    from gorilla_rlaif.eval.score import sample_values
    from gorilla_rlaif.io import read_jsonl

    path = Path(run_dir) / SAMPLES_FILE
    if not path.exists():
        raise DataError("missing: not an eval run directory (no samples)", path=path)
    sums: dict[int, dict[str, dict[int, list[float]]]] = {}
    for _, row in read_jsonl(path):
        if row.get("hub") != hub:
            continue
        run = 0 if mean_over_runs else int(row.get("run", 0))
        for key, value in sample_values(row).items():
            if value is not None:
                sums.setdefault(run, {}).setdefault(key, {}).setdefault(row["question_id"], []).append(value)
    if not sums:
        raise DataError(f"no samples of hub {hub}", path=path)
    return [
        {key: {q: sum(v) / len(v) for q, v in by_q.items()} for key, by_q in sums[run].items()}
        for run in sorted(sums)
    ]


def paired_vs(
    baseline: Sequence[QuestionValues], candidates: dict[str, Sequence[QuestionValues]]
) -> dict[str, dict[str, Any]]:
    """name -> metric -> `paired_comparison` (+ `verdict`): each candidate against the baseline."""
    from gorilla_rlaif.metrics.stats import paired_comparison, verdict_text

    out: dict[str, dict[str, Any]] = {}
    for name, values in candidates.items():
        if len(values) != len(baseline):
            raise DataError(
                f"{name} has {len(values)} run(s) and the baseline {len(baseline)}: runs pair by index"
            )
        out[name] = {}
        for key, _, higher in METRICS:
            comparison = paired_comparison(
                [b.get(key, {}) for b in baseline], [v.get(key, {}) for v in values]
            )
            comparison["verdict"] = verdict_text(comparison, higher)
            out[name][key] = comparison
    return out


def _pts(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f}"


def paired_markdown(paired: dict[str, dict[str, Any]], baseline: str, *, runs_word: str = "seeds") -> str:
    """The table of `paired_vs`: one row per (candidate, metric)."""
    several = any(c.get("n_seeds", 1) > 1 for by_metric in paired.values() for c in by_metric.values())
    lines = [
        f"Difference in points (model − {baseline}"
        + (f" of the same {runs_word[:-1]}" if several else "")
        + "), averaged over questions"
        + (f" and {runs_word}" if several else "")
        + "; 95% interval and two-sided p-value from a bootstrap that resamples "
        + (f"{runs_word} and questions" if several else "questions")
        + "; better/worse only where p < 0.05.",
        "",
        "| Model | metric | difference | 95% interval | p | questions better / worse / same | "
        + (f"per {runs_word[:-1]} | " if several else "")
        + "reading |",
        "|---|---|--:|--:|--:|--:|" + ("--:|" if several else "") + "---|",
    ]
    labels = {key: label for key, label, _ in METRICS}
    for name, by_metric in paired.items():
        for key, c in by_metric.items():
            ci = f"[{_pts(c['ci95'][0])}, {_pts(c['ci95'][1])}]" if c.get("ci95") else "–"
            p = (
                "–"
                if c.get("p_value") is None
                else ("< 0.001" if c["p_value"] < 0.001 else f"{c['p_value']:.3f}")
            )
            counts = f"{c.get('better', 0)} / {c.get('worse', 0)} / {c.get('same', 0)}"
            per_run = (" | " + ", ".join(_pts(v) for v in c.get("per_seed", []))) if several else ""
            lines.append(
                f"| {name} | {labels.get(key, key)} | {_pts(c.get('diff'))} | {ci} | {p} | {counts}{per_run} | "
                f"{c['verdict']} |"
            )
    return "\n".join(lines) + "\n"


def compare_runs(
    baseline: str | Path, candidates: Sequence[str | Path], hub: str | None = None
) -> dict[str, Any]:
    """`gorilla-bench compare`: each candidate eval run against the baseline run, paired per question."""
    import json

    from gorilla_rlaif.eval.run import RESULTS_FILE

    def load(run_dir: str | Path) -> dict[str, Any]:
        path = Path(run_dir) / RESULTS_FILE
        if not path.exists():
            raise DataError("missing: not an eval run directory", path=path)
        return json.loads(path.read_text(encoding="utf-8"))

    base = load(baseline)
    hubs = list(base["hubs"])
    hub = hub or hubs[0]
    if hub not in base["hubs"]:
        raise DataError(
            f"has no results for {hub} (hubs: {', '.join(hubs)})", path=Path(baseline) / RESULTS_FILE
        )
    split = (base.get("config") or {}).get("split")
    names = {}
    for run_dir in candidates:
        record = load(run_dir)
        if hub not in record["hubs"] or (record.get("config") or {}).get("split") != split:
            raise DataError(f"is not a {split}-split run of {hub}: not the same questions", path=run_dir)
        names[f"{record.get('model')} ({Path(run_dir).name})"] = run_dir
    paired = paired_vs(
        question_values(baseline, hub), {name: question_values(path, hub) for name, path in names.items()}
    )
    label = f"{base.get('model')} ({Path(baseline).name})"
    return {"hub": hub, "split": split, "baseline": label, "paired": paired}

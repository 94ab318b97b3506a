"""The report stage: what the method did, over seeds, with the noise it carries said out loud.

`write_report(runs, out, hub=...)` reads every seed's eval runs, training records and judge report
and writes into `out`:

- `comparison.md`: (1) one row per model, each metric as the mean ± sd over seeds (one seed: the
  value and its 95% bootstrap interval over questions); (2) each RL model against SFT on the same
  test questions: the paired difference, its 95% interval and p-value from a bootstrap over seeds
  and questions (`gorilla_rlaif.metrics.stats.paired_comparison`), and "no significant
  difference" where that is what it shows; (3) every seed's own row; (4) what the training
  stages reached, per seed; (5) the judge's quality against checkable ground truth, pooled over
  seeds (`gorilla_rlaif.eval.judge_quality`).
- `comparison.json`: all of the above as numbers.
- `comparison.png`: the leaderboard's figure (`render_plot`), bars = mean, whiskers = ± sd over
  seeds (one seed: the 95% interval).
- `cards/`: each model's card (`gorilla_rlaif.model_card.write_model_card`), whose scores are the seeds'
  mean, also written into every seed's model directory with `.eval_results/*.yaml`.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import DataError
from gorilla_rlaif.io import write_json, write_text
from gorilla_rlaif.metrics.names import PAPER_METRICS as COLUMNS

log = logging.getLogger(__name__)

TABLE_FILE = "comparison.md"
PLOT_FILE = "comparison.png"
JSON_FILE = "comparison.json"
LABELS = {"sft": "SFT", "ppo": "SFT + PPO (RLAIF)", "rloo": "SFT + RLOO (RLAIF)", "dpo": "SFT + DPO"}


@dataclass
class SeedRun:
    """Where one seed's artifacts are: eval run dirs and model dirs per model, training records."""

    seed: int
    evals: dict[str, Path]
    models: dict[str, Path] = field(default_factory=dict)
    records: dict[str, Path] = field(default_factory=dict)
    judge_report: Path | None = None


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("missing: run the stage that writes it first", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None


def _mean_cell(summary: dict[str, Any], single: dict[str, Any] | None) -> str:
    """mean ± sd over seeds; with one seed, the value and its interval over questions."""
    from gorilla_rlaif.eval.leaderboard import format_metric

    if summary["n"] == 1:
        return format_metric(single)
    if summary["mean"] is None:
        return "–"
    return f"{100 * summary['mean']:.1f} ± {100 * summary['sd']:.1f}"


def aggregate(runs: list[SeedRun], hub: str) -> dict[str, Any]:
    """Read every seed's results; compute mean ± sd per model and metric, and the paired tests."""
    from gorilla_rlaif.eval import RESULTS_FILE
    from gorilla_rlaif.eval.compare import paired_vs, question_values
    from gorilla_rlaif.metrics.stats import mean_sd

    models = list(runs[0].evals)
    results: dict[str, list[dict[str, Any]]] = {}
    for name in models:
        results[name] = []
        for run in runs:
            record = _read(run.evals[name] / RESULTS_FILE)
            if hub not in record.get("hubs", {}):
                raise DataError(f"has no results for {hub}", path=run.evals[name] / RESULTS_FILE)
            results[name].append(record)
    summary = {
        name: {
            key: mean_sd([(r["hubs"][hub]["metrics"].get(key) or {}).get("value") for r in records])
            for key, _, _ in COLUMNS
        }
        for name, records in results.items()
    }
    values = {
        name: [question_values(run.evals[name], hub, mean_over_runs=True)[0] for run in runs]
        for name in models
    }
    paired = paired_vs(values["sft"], {name: values[name] for name in models[1:]})
    return {"models": models, "results": results, "summary": summary, "paired": paired}


def comparison_markdown(
    data: dict[str, Any], runs: list[SeedRun], hub: str, caveat: str | None = None
) -> str:
    """Tables (1)-(3) of the module docstring."""
    from gorilla_rlaif.eval.compare import paired_markdown
    from gorilla_rlaif.eval.leaderboard import format_metric

    seeds = [run.seed for run in runs]
    several = len(seeds) > 1
    header = ["Model", "n", *[f"{label} {'↑' if up else '↓'}" for _, label, up in COLUMNS]]
    n_of = {name: data["results"][name][0]["hubs"][hub].get("n", "?") for name in data["models"]}
    spread = (
        f"Mean ± sd over {len(seeds)} seeds ({', '.join(map(str, seeds))}; every stochastic stage re-run "
        "per seed)"
        if several
        else f"One seed ({seeds[0]}): values with [95% bootstrap interval over questions]; a single run "
        "cannot separate the method's effect from run-to-run noise (use --seeds 0 1 2)"
    )
    lines = [
        f"### {hub}, test split: SFT vs. " + " vs. ".join(LABELS.get(m, m) for m in data["models"][1:]),
        "",
        f"Percentages. {spread}. AST accuracy and hallucination: Gorilla's AST sub-tree match against the "
        "API database; executability: the answer's code ran without error in the sandbox; AST (strict, not "
        "in the paper): the call is the gold API itself (callee and identifying arguments).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "--:"] + ["--:"] * len(COLUMNS)) + "|",
    ]
    for name in data["models"]:
        first = data["results"][name][0]["hubs"][hub]["metrics"]
        cells = [LABELS.get(name, name), str(n_of[name])]
        cells += [_mean_cell(data["summary"][name][key], first.get(key)) for key, _, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    paired = {LABELS.get(name, name): by_metric for name, by_metric in data["paired"].items()}
    lines += [
        "",
        "#### Each RL model vs. SFT on the same questions (paired)",
        "",
        paired_markdown(paired, "SFT").rstrip(),
    ]
    if several:
        lines += [
            "",
            "#### Every seed",
            "",
            "| Model | seed | " + " | ".join(label for _, label, _ in COLUMNS) + " |",
            "|---|--:|" + "--:|" * len(COLUMNS),
        ]
        for name in data["models"]:
            for run, record in zip(runs, data["results"][name], strict=True):
                metrics = record["hubs"][hub]["metrics"]
                cells = [format_metric(metrics.get(key)) for key, _, _ in COLUMNS]
                lines.append(f"| {LABELS.get(name, name)} | {run.seed} | " + " | ".join(cells) + " |")
    if caveat:
        lines += ["", caveat]
    return "\n".join(lines) + "\n"


def _held_out(name: str, record: dict[str, Any]) -> str:
    metrics = record.get("metrics") or {}
    test = metrics.get("test") or {}
    train = metrics.get("train") or {}
    if name == "reward" and "pairwise_accuracy" in test:
        return f"pairwise accuracy {100 * test['pairwise_accuracy']:.1f}% on {test['n']} pairs"
    if name == "reward" and "accuracy" in test:
        return (
            f"accuracy {100 * test['accuracy']:.1f}% (majority {100 * test['majority_baseline']:.1f}%) "
            f"on {test['n']}"
        )
    if name == "dpo" and "preference_accuracy" in test:
        return f"implicit-reward preference accuracy {100 * test['preference_accuracy']:.1f}% on {test['n']} pairs"
    if name == "ppo" and "objective/rlhf_reward" in train:
        r = train["objective/rlhf_reward"]
        kl = (train.get("objective/kl") or {}).get("last")
        return f"RLHF reward {r['first']:.2f} → {r['last']:.2f}" + (
            f", KL {kl:.3f}" if kl is not None else ""
        )
    if name == "rloo" and "reward" in train:
        r = train["reward"]
        kl = (train.get("kl") or {}).get("last")
        return f"reward {r['first']:.2f} → {r['last']:.2f}" + (f", KL {kl:.3f}" if kl is not None else "")
    if "test_loss" in metrics:
        return f"test loss {metrics['test_loss']:.3f}"
    return "–"


def training_markdown(runs: list[SeedRun]) -> str:
    """What each training stage reached on held-out data, per seed (from each model's record)."""
    lines = ["| Stage | seed | held-out result | training time |", "|---|--:|---|--:|"]
    for name in runs[0].records:
        for run in runs:
            record = _read(run.records[name])
            lines.append(
                f"| {name} | {run.seed} | {_held_out(name, record)} | {record.get('duration_s', 0):.0f} s |"
            )
    return "\n".join(lines) + "\n"


def judge_quality(runs: list[SeedRun]) -> dict[str, Any] | None:
    """The judge's quality pooled over seeds: the rows of every seed's judge report, summarised."""
    from gorilla_rlaif.eval.judge_quality import ROWS_FILE, SUMMARY_FILE, JudgeReportConfig, summarize_quality
    from gorilla_rlaif.io import read_jsonl

    reports = [run.judge_report for run in runs if run.judge_report is not None]
    if not reports:
        return None
    rows = [row for report in reports for _, row in read_jsonl(report / ROWS_FILE)]
    first = _read(reports[0] / SUMMARY_FILE).get("config") or {}
    config = JudgeReportConfig.model_validate({**first, "feedback": first.get("feedback", "?")})
    return summarize_quality(rows, config)


def _plot_records(data: dict[str, Any], hub: str) -> list[dict[str, Any]]:
    """One leaderboard-shaped record per model: the first seed's (one seed), or the means with
    ± sd as the whiskers (several)."""
    out = []
    for name in data["models"]:
        first = data["results"][name][0]
        if len(data["results"][name]) == 1:
            out.append({**first, "_label": LABELS.get(name, name)})
            continue
        metrics = {}
        for key, s in data["summary"][name].items():
            if s["mean"] is not None:
                metrics[key] = {"value": s["mean"], "ci95": [s["mean"] - s["sd"], s["mean"] + s["sd"]]}
        out.append(
            {
                "hubs": {hub: {"metrics": metrics}},
                "config": first.get("config", {}),
                "_label": LABELS.get(name, name),
            }
        )
    return out


def write_report(
    runs: list[SeedRun],
    out: Path,
    *,
    hub: str,
    name_prefix: str = "gorilla-rlaif",
    caveat: str | None = None,
) -> dict[str, Any]:
    """Write table (md + json), plot and cards into `out`; return what was written."""
    from gorilla_rlaif.eval.judge_quality import quality_markdown
    from gorilla_rlaif.eval.leaderboard import render_plot
    from gorilla_rlaif.model_card import write_model_card

    if not runs:
        raise DataError("no seeds to report", path=out)
    out.mkdir(parents=True, exist_ok=True)
    data = aggregate(runs, hub)
    quality = judge_quality(runs)
    text = comparison_markdown(data, runs, hub, caveat)
    text += "\n#### Training stages\n\n" + training_markdown(runs)
    if quality is not None:
        pooled = f", pooled over {len(runs)} seeds" if len(runs) > 1 else ""
        text += "\n" + quality_markdown(
            quality, title=f"#### The judge against checkable answers ({quality['rows']} candidates{pooled})"
        )
    write_text(out / TABLE_FILE, text)
    render_plot(_plot_records(data, hub), out / PLOT_FILE)
    rows = {
        LABELS.get(name, name): {key: s["mean"] for key, s in data["summary"][name].items()}
        for name in data["models"]
    }
    write_json(
        out / JSON_FILE,
        {
            "hub": hub,
            "split": "test",
            "seeds": [run.seed for run in runs],
            "rows": rows,
            "summary": {LABELS.get(n, n): s for n, s in data["summary"].items()},
            "paired_vs_sft": {LABELS.get(n, n): p for n, p in data["paired"].items()},
            "judge_quality": quality,
        },
    )
    cards = out / "cards"
    cards.mkdir(exist_ok=True)
    for name in data["models"]:
        readme = None
        for run in runs:
            if name in run.models:
                readme = write_model_card(
                    run.models[name], results=data["results"][name], model_name=f"{name_prefix}-{name}"
                )
        if readme is not None:
            shutil.copyfile(readme, cards / f"{name}.md")
    return {"table": str(out / TABLE_FILE), "plot": str(out / PLOT_FILE), "rows": rows}

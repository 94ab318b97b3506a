"""`gorilla-bench leaderboard OUTPUT`: compare every run under OUTPUT in a table and a plot.

Reads `OUTPUT/*/*/results.json` (models x runs), writes `OUTPUT/leaderboard.md` (one table per hub
and split, best AST accuracy first, each value with its 95% interval) and `OUTPUT/leaderboard.png`
(matplotlib, Agg backend: no display needed; one panel per hub, a group of bars per metric, one
bar per run, interval whiskers). Runs of different splits are never ranked in one table: their
prompts differ.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import DataError
from gorilla_rlaif.eval.run import RESULTS_FILE
from gorilla_rlaif.metrics.names import METRIC_LABELS, METRICS

log = logging.getLogger(__name__)

MARKDOWN_FILE = "leaderboard.md"
PLOT_FILE = "leaderboard.png"
# Percent-valued metrics: all of ours are shares or scores in [0, 1].
PLOT_METRICS = ("ast_accuracy", "hallucination_rate", "rouge_l", "codebleu", "executability")


def collect_runs(output: str | Path) -> list[dict[str, Any]]:
    """Every results.json under OUTPUT/MODEL/RUN/, with a display label."""
    output = Path(output)
    if not output.is_dir():
        raise DataError(
            "not a directory of eval results (expected OUTPUT/MODEL/RUN/results.json)", path=output
        )
    runs = []
    for path in sorted(output.glob(f"*/*/{RESULTS_FILE}")):
        record = read_results(path)
        record["_path"] = str(path)
        runs.append(record)
    if not runs:
        raise DataError(
            f"no {RESULTS_FILE} found under OUTPUT/*/*/ (run gorilla-bench eval first)", path=output
        )
    per_model: dict[str, int] = {}
    for record in runs:
        per_model[record["model"]] = per_model.get(record["model"], 0) + 1
    for record in runs:
        label = Path(record["model"]).name if Path(record["model"]).exists() else record["model"]
        if per_model[record["model"]] > 1:
            label += f" ({record['run_name']})"
        record["_label"] = label
    return runs


def read_results(path: Path) -> dict[str, Any]:
    """A results.json, checked where the table and plot read it: every metric value a number."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start}): not a results file", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(record, dict) or not isinstance(record.get("hubs"), dict) or "model" not in record:
        raise DataError("not a gorilla-bench results file (no 'model' and 'hubs')", path=path)
    for hub, block in record["hubs"].items():
        for key, metric in ((block or {}).get("metrics") or {}).items():
            value = (metric or {}).get("value")
            interval = (metric or {}).get("ci95") or []
            numbers = [value, *interval]
            if any(
                v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))) for v in numbers
            ):
                raise DataError(f"hubs.{hub}.metrics.{key}: value {value!r} is not a number", path=path)
    return record


def format_metric(metric: dict[str, Any] | None) -> str:
    """A results.json metric as a table cell: percent, [95% interval], ±std over several runs."""
    if not metric or metric.get("value") is None:
        return "–"
    text = f"{100 * metric['value']:.1f}"
    if metric.get("ci95") and metric["ci95"][0] is not None:
        low, high = metric["ci95"]
        text += f" [{100 * low:.1f}, {100 * high:.1f}]"
    if len(metric.get("runs") or []) > 1:
        text += f" ±{100 * metric['std']:.1f}"
    return text


def tables(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(hub, split) -> rows sorted by AST accuracy, best first."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in runs:
        split = record.get("config", {}).get("split", "?")
        for hub, block in record["hubs"].items():
            out.setdefault((hub, split), []).append({"run": record, "block": block})
    for rows in out.values():
        rows.sort(key=lambda r: -(r["block"]["metrics"].get("ast_accuracy", {}).get("value") or 0.0))
    return dict(sorted(out.items()))


def render_markdown(runs: list[dict[str, Any]]) -> str:
    lines = [
        "# gorilla-bench leaderboard",
        "",
        "Percentages; [95% bootstrap interval over questions]; ±: standard deviation over runs when there are several. "
        "AST accuracy / hallucination / wrong API: Gorilla's AST sub-tree matching against the API database; "
        "executability: the response's code ran without error in the sandbox (offline, tiny stand-in models).",
        "",
    ]
    keys = [key for key, _, _ in METRICS]
    for (hub, split), rows in tables(runs).items():
        lines += [f"## {hub} ({split} split)", ""]
        header = ["Model", "n", "runs", *[METRIC_LABELS[k] for k in keys]]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|")
        for row in rows:
            block, record = row["block"], row["run"]
            cells = [f"`{record['_label']}`", str(block["n"]), str(block.get("num_runs", 1))]
            cells += [format_metric(block["metrics"].get(k)) for k in keys]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Runs", "", "| Model | Run | backend | created | results |", "|---|---|---|---|---|"]
    for record in runs:
        backend = (record.get("backend") or {}).get("backend", "?")
        lines.append(
            f"| `{record['model']}` | {record['run_name']} | {backend} | {record.get('created_at', '?')} | "
            f"`{Path(record['_path']).relative_to(Path(record['_path']).parents[2])}` |"
        )
    return "\n".join(lines) + "\n"


def _value(metric: dict[str, Any] | None) -> float:
    value = (metric or {}).get("value")
    return float("nan") if value is None else float(value)


def render_plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = tables(runs)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, ((hub, split), rows) in zip(axes[0], panels.items(), strict=True):
        width = 0.8 / max(len(rows), 1)
        x = np.arange(len(PLOT_METRICS))
        for i, row in enumerate(rows):
            metrics = row["block"]["metrics"]
            values = [100 * _value(metrics.get(k)) for k in PLOT_METRICS]
            errors = np.zeros((2, len(PLOT_METRICS)))
            for j, key in enumerate(PLOT_METRICS):
                ci = (metrics.get(key) or {}).get("ci95")
                if ci and ci[0] is not None:
                    errors[0, j] = max(0.0, values[j] - 100 * ci[0])
                    errors[1, j] = max(0.0, 100 * ci[1] - values[j])
            ax.bar(
                x + (i - (len(rows) - 1) / 2) * width,
                values,
                width,
                yerr=errors,
                capsize=2,
                label=row["run"]["_label"],
            )
        ax.set_xticks(x, [METRIC_LABELS[k] for k in PLOT_METRICS], rotation=25, ha="right", fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("%")
        ax.set_title(f"{hub} ({split})")
        ax.grid(axis="y", alpha=0.3)
    # one legend for all panels, below them (inside a panel it hides bars near 100%)
    seen: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    ncol = min(len(seen), 4)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    rows_of_legend = -(-len(seen) // ncol)
    fig.tight_layout(rect=(0, 0.06 * rows_of_legend, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_leaderboard(output: str | Path) -> tuple[Path, Path]:
    """Write OUTPUT/leaderboard.md and OUTPUT/leaderboard.png; return their paths."""
    output = Path(output)
    runs = collect_runs(output)
    md = output / MARKDOWN_FILE
    md.write_text(render_markdown(runs), encoding="utf-8")
    png = output / PLOT_FILE
    render_plot(runs, png)
    log.info("leaderboard of %d runs: %s, %s", len(runs), md, png)
    return md, png

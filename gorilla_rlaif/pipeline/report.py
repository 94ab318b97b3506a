"""Step 9: the comparison table in the paper's shape, its plot, and a model card per trained model.

The table has one row per trained model (SFT, PPO, DPO) and the paper's columns: Gorilla's AST
accuracy and hallucination rate, ROUGE-L, CodeBLEU and the executability rate, each with its 95%
bootstrap interval over questions (from `results.json`, computed by `gorilla_rlaif.eval`). The
plot is `gorilla_rlaif.eval.leaderboard.render_plot` (the same figure `gorilla-bench
leaderboard` draws); the cards are `gorilla_rlaif.model_card.write_model_card` (training record +
these results, in the model directory's README.md, copied to `report/cards/`).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import DataError
from gorilla_rlaif.io import write_json

log = logging.getLogger(__name__)

TABLE_FILE = "comparison.md"
PLOT_FILE = "comparison.png"
JSON_FILE = "comparison.json"
# (results key, column, higher is better) in the paper's order
COLUMNS = (
    ("ast_accuracy", "AST accuracy", True),
    ("hallucination_rate", "Hallucination", False),
    ("rouge_l", "ROUGE-L", True),
    ("codebleu", "CodeBLEU", True),
    ("executability", "Executability", True),
    ("ast_accuracy_strict", "AST (strict)", True),  # not in the paper: the gold API itself
)
LABELS = {"sft": "SFT", "ppo": "SFT + PPO (RLAIF)", "dpo": "SFT + DPO"}


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("missing: run the eval stage first", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None


def comparison_markdown(results: dict[str, dict[str, Any]], hub: str, caveat: str | None = None) -> str:
    """The paper-shaped table: model x (AST, hallucination, ROUGE-L, CodeBLEU, executability)."""
    from gorilla_rlaif.eval.leaderboard import format_metric  # the leaderboard's cells, same format

    header = ["Model", "n", *[f"{label} {'↑' if up else '↓'}" for _, label, up in COLUMNS]]
    lines = [
        f"### {hub}, test split: SFT vs. RLAIF (PPO) vs. DPO",
        "",
        "Percentages with [95% bootstrap interval over questions]. AST accuracy and hallucination: "
        "Gorilla's AST sub-tree match against the API database; executability: the answer's code "
        "ran without error in the sandbox; AST (strict, not in the paper): the call is the gold API "
        "itself (callee and identifying arguments).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "--:"] + ["--:"] * len(COLUMNS)) + "|",
    ]
    for name, record in results.items():
        block = record["hubs"][hub]
        metrics = block.get("metrics", {})
        cells = [LABELS.get(name, name), str(block.get("n", "?"))]
        cells += [format_metric(metrics.get(key)) for key, _, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    if caveat:
        lines += ["", caveat]
    return "\n".join(lines) + "\n"


def training_markdown(records: dict[str, dict[str, Any]]) -> str:
    """What each training stage reached on held-out data (from each model's record, gorilla_rlaif.meta.json)."""
    lines = ["| Stage | held-out result | training time |", "|---|---|--:|"]
    for name, record in records.items():
        metrics = record.get("metrics") or {}
        test = metrics.get("test") or {}
        train = metrics.get("train") or {}
        if name == "reward" and "pairwise_accuracy" in test:
            text = f"pairwise accuracy {100 * test['pairwise_accuracy']:.1f}% on {test['n']} pairs"
        elif name == "reward" and "accuracy" in test:
            text = (
                f"accuracy {100 * test['accuracy']:.1f}% (majority {100 * test['majority_baseline']:.1f}%) "
                f"on {test['n']}"
            )
        elif name == "dpo" and "preference_accuracy" in test:
            text = f"implicit-reward preference accuracy {100 * test['preference_accuracy']:.1f}% on {test['n']} pairs"
        elif name == "ppo" and "objective/rlhf_reward" in train:
            r = train["objective/rlhf_reward"]
            kl = (train.get("objective/kl") or {}).get("last")
            text = f"RLHF reward {r['first']:.2f} → {r['last']:.2f}" + (
                f", KL {kl:.3f}" if kl is not None else ""
            )
        elif "test_loss" in metrics:
            text = f"test loss {metrics['test_loss']:.3f}"
        else:
            text = "–"
        lines.append(f"| {name} | {text} | {record.get('duration_s', 0):.0f} s |")
    return "\n".join(lines) + "\n"


def write_report(
    eval_runs: dict[str, Path],
    model_dirs: dict[str, Path],
    train_records: dict[str, Path],
    out: Path,
    *,
    hub: str,
    name_prefix: str = "gorilla-rlaif",
    caveat: str | None = None,
) -> dict[str, Any]:
    """Write table (md + json), plot and cards into `out`; return what was written."""
    from gorilla_rlaif.eval import RESULTS_FILE
    from gorilla_rlaif.eval.leaderboard import render_plot
    from gorilla_rlaif.model_card import write_model_card

    out.mkdir(parents=True, exist_ok=True)
    results = {name: _read(run / RESULTS_FILE) for name, run in eval_runs.items()}
    for name, record in results.items():
        if hub not in record.get("hubs", {}):
            raise DataError(f"has no results for {hub}", path=eval_runs[name] / RESULTS_FILE)
    trained = {name: _read(path) for name, path in train_records.items()}

    table = comparison_markdown(results, hub, caveat)
    (out / TABLE_FILE).write_text(
        table + "\n#### Training stages\n\n" + training_markdown(trained), encoding="utf-8"
    )
    runs = [
        {**record, "_label": LABELS.get(name, name), "_path": str(eval_runs[name] / RESULTS_FILE)}
        for name, record in results.items()
    ]
    render_plot(runs, out / PLOT_FILE)
    rows = {
        LABELS.get(name, name): {
            key: (record["hubs"][hub]["metrics"].get(key) or {}).get("value") for key, _, _ in COLUMNS
        }
        for name, record in results.items()
    }
    write_json(out / JSON_FILE, {"hub": hub, "split": "test", "rows": rows})

    cards = out / "cards"
    cards.mkdir(exist_ok=True)
    for name, model_dir in model_dirs.items():
        readme = write_model_card(
            model_dir,
            results=[results[name]] if name in results else None,
            model_name=f"{name_prefix}-{name}",
        )
        shutil.copyfile(readme, cards / f"{name}.md")
    return {"table": str(out / TABLE_FILE), "plot": str(out / PLOT_FILE), "rows": rows}

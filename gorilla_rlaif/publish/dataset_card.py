"""The dataset card (README.md) from `cards/dataset_card.md.jinja`, and the score histogram plot.

Jinja2 renders the template (StrictUndefined: a missing field is an error, not an empty cell).
The YAML front matter, including the `configs:` block that tells `load_dataset` and the Hub
which parquet files make which config, is produced with PyYAML, not by the template, so it is
always valid YAML.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from gorilla_rlaif.llm import redact

TEMPLATE = "dataset_card.md.jinja"


def _template_text() -> str:
    return (resources.files("gorilla_rlaif.cards") / TEMPLATE).read_text(encoding="utf-8")


def _size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "n>1M"


def _short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else value
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_card(
    config: Any,
    record: dict[str, Any],
    rows: list[Any],
    configs_block: list[dict[str, Any]],
    example: str | None = None,
) -> str:
    """The card's markdown; `rows` are the dataset's `FeedbackRow`s, `example` one pair shown."""
    import jinja2

    from gorilla_rlaif.judge.rubric import Rubric

    metas = [m for m in record.get("feedback_meta") or [] if m]
    label_meta = metas[0] if metas else {}
    generation = label_meta.get("generation") or {}
    judge = label_meta.get("judge") or (rows[0].judge.model_dump() if rows[0].judge else {})
    rubric_data = label_meta.get("rubric")
    rubric = Rubric.model_validate(rubric_data) if rubric_data else None
    question_ids = list(rows[0].answers)
    if rubric is None:  # feedback without its meta file: questions by id only
        questions = [
            {
                "id": q,
                "text": "(rubric text not available: the feedback file's .meta.json is missing)",
                "desirable": "?",
            }
            for q in question_ids
        ]
        rubric_info = {"name": judge.get("rubric", "?"), "version": judge.get("rubric_version", "?")}
        rubric_yaml, rubric_hash = "# not available", str(judge.get("rubric_hash", "?"))
    else:
        questions = [q.model_dump() for q in rubric.questions]
        rubric_info = {"name": rubric.name, "version": rubric.version}
        rubric_yaml, rubric_hash = rubric.to_yaml().rstrip(), rubric.hash

    stats = record["stats"]
    counts = record["counts"]
    gen_config = (generation.get("config") or {}).get("generation") or {}
    generator_model = gen_config.get("model") or "an unrecorded model (candidates had no .meta.json)"
    source = generation.get("source_data") or {}
    source_text = (
        "; ".join(
            f"{name}: {info.get('file', '')} sha256 `{str(info.get('sha256', ''))[:16]}`"
            for name, info in source.items()
        )
        if source
        else "not recorded"
    )
    prompts = (generation.get("inputs") or {}).get("prompts") or {}
    histogram = []
    max_score = int(stats.get("max_score") or len(question_ids))
    peak = max([*stats["score_histogram"].values(), 1])
    for score in range(max_score + 1):
        n = stats["score_histogram"].get(str(score), 0)
        histogram.append((score, n, "█" * round(30 * n / peak)))
    if not (counts["preferences"]["train"] or counts["preferences"]["test"]):
        example = None
    judge_public = {k: v for k, v in judge.items() if k != "settings_hash"}
    front = {
        "license": config.license,
        "pretty_name": f"{config.name} v{config.version}",
        "language": ["en"],
        "tags": ["rlaif", "ai-feedback", "preference", "code-generation", "api-usage", "gorilla", "apibench"],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(stats["rows"])],
        "configs": configs_block,
    }
    cost = stats.get("cost_usd")
    context = {
        "config": config,
        "prov": record,
        "front_matter": yaml.safe_dump(front, sort_keys=False, allow_unicode=True),
        "repo": config.push_to_hub or config.output_dir,
        "generator_model": generator_model,
        "judge_label": f"{judge.get('backend', '?')}" + (f":{judge['model']}" if judge.get("model") else ""),
        "questions": questions,
        "rubric": rubric_info,
        "rubric_hash": rubric_hash,
        "rubric_yaml": rubric_yaml,
        "max_score": max_score,
        "counts": counts,
        "stats": stats,
        "yes_rate": stats.get("answer_yes_rate") or {},
        "histogram": histogram,
        "cost": f"${cost:.4f} (list prices at labeling time)"
        if cost is not None
        else "unknown (no price for the judge model, or a local judge)",
        "source_data": source_text,
        "prompts_file": _short(prompts) if prompts else "not recorded",
        "generation_config": _short(gen_config) if gen_config else "not recorded",
        "judge_settings": _short(judge_public),
        "feedback_hashes": _short(record.get("inputs") or {}),
        "example_pair": example,
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return redact(env.from_string(_template_text()).render(**context))


def score_histogram_png(histogram: dict[str, int], max_score: int, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = list(range(max_score + 1))
    values = [histogram.get(str(s), 0) for s in scores]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.bar(scores, values, color="#4C72B0")
    ax.set_xlabel("score (desirable answers)")
    ax.set_ylabel("candidates")
    ax.set_xticks(scores)
    ax.set_title("Judge scores")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no timestamp: same data, same bytes
    plt.close(fig)

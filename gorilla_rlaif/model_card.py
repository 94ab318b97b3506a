"""Model cards: put eval scores and training provenance where people look, the model's README.md.

huggingface_hub does the format: `ModelCard` parses and writes the README (YAML front matter +
markdown), `ModelCardData`/`EvalResult` produce the `model-index` block in the Hub's schema (task
text-generation, dataset `gorilla-llm/APIBench` with the hub as config and our split, one metric
per score), which the Hub shows as an evaluation widget and leaderboards read. What this module
adds is the merge, so a card can be updated any number of times without losing anything:

- existing card text and metadata are kept; our two sections live between HTML comment markers
  (`<!-- gorilla-rlaif:results -->`, `<!-- gorilla-rlaif:training -->`) and are replaced in place;
- our `model-index` entries (`source.name: gorilla-rlaif`) are replaced by (hub, split, metric),
  entries from anyone else are kept, so evaluating another hub adds to the card and re-evaluating
  the same one replaces the old numbers instead of duplicating them;
- the scores table is rendered from the merged `model-index`, so table and metadata always agree.

A new card starts from `cards/model_card.md.jinja`. The trainers call `write_model_card` when a
run finishes (training section from the model's record, `gorilla_rlaif.meta.json`); `gorilla-bench card`
adds results.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import ConfigError, DataError, GorillaRlaifError
from gorilla_rlaif.sidecar import DIRECTORY_SIDECAR, read_sidecar

log = logging.getLogger(__name__)

TEMPLATE = "model_card.md.jinja"
SOURCE_NAME = "gorilla-rlaif"
# The Hub requires a URL with a source name; the toolkit has no site of its own, so the source
# points at the method it implements. `source.name` is what marks an entry as ours.
SOURCE_URL = "https://arxiv.org/abs/2406.20060"
DATASET_ID = "gorilla-llm/APIBench"
TRAIN_RECORD = DIRECTORY_SIDECAR  # the model directory's record (gorilla_rlaif.sidecar)
HUB_LABELS = {"huggingface": "HuggingFace", "tensorflowhub": "TensorFlow Hub", "torchhub": "TorchHub"}
SECTIONS = ("results", "training")


def _template_path() -> str:
    return str(resources.files("gorilla_rlaif.cards") / TEMPLATE)


def _marker(name: str, end: bool = False) -> str:
    return f"<!-- gorilla-rlaif:{name}{':end' if end else ''} -->"


def replace_section(text: str, name: str, content: str) -> str:
    """Put `content` between our markers for `name`: in place if present, else appended."""
    block = f"{_marker(name)}\n{content.strip()}\n{_marker(name, end=True)}"
    pattern = re.compile(re.escape(_marker(name)) + r".*?" + re.escape(_marker(name, end=True)), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip() + "\n\n" + block + "\n"


# ---- results -> EvalResult --------------------------------------------------------------------------
def eval_results_from(results: dict[str, Any]) -> list[Any]:
    """One `EvalResult` per (hub, metric) of a results.json, values in percent."""
    from huggingface_hub import EvalResult

    from gorilla_rlaif.metrics.names import METRIC_LABELS

    if "hubs" not in results:
        raise DataError("not a gorilla-bench results.json (no 'hubs')")
    split = (results.get("config") or {}).get("split", "eval")
    out = []
    for hub, block in results["hubs"].items():
        for key, metric in block.get("metrics", {}).items():
            if metric.get("value") is None:  # e.g. CodeBLEU when no answer had code
                continue
            args: dict[str, Any] = {"n": metric.get("n"), "runs": len(metric.get("runs") or [1])}
            if metric.get("ci95"):
                args["ci95"] = [round(100 * v, 2) for v in metric["ci95"]]
            out.append(
                EvalResult(
                    task_type="text-generation",
                    task_name="API-usage code generation",
                    dataset_type=DATASET_ID,
                    dataset_name=f"APIBench ({HUB_LABELS.get(hub, hub)})",
                    dataset_config=hub,
                    dataset_split=split,
                    metric_type=key,
                    metric_name=METRIC_LABELS.get(key, key),
                    metric_value=round(100 * metric["value"], 2),
                    metric_args=args,
                    source_name=SOURCE_NAME,
                    source_url=SOURCE_URL,
                )
            )
    return out


def _key(result: Any) -> tuple[Any, ...]:
    return (result.dataset_type, result.dataset_config, result.dataset_split, result.metric_type)


def merge_eval_results(existing: list[Any] | None, new: list[Any]) -> list[Any]:
    """Ours replaced by (dataset, config, split, metric); others' kept in their order. Within
    `new`, the last result of a key wins (the same run given twice is listed once)."""
    latest = {_key(r): r for r in new}
    kept = [r for r in existing or [] if not (r.source_name == SOURCE_NAME and _key(r) in latest)]
    return kept + list(latest.values())


def model_target(model: str) -> tuple[Path | None, str | None]:
    """(local model directory, None) or (None, Hub repo id) for what `gorilla-bench card` was given.

    A path that exists must be a model directory (`config.json`); one that does not exist is a
    typo unless it is a valid Hub id (`org/name`)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            what = "a file" if path.is_file() else "a directory without config.json"
            raise ConfigError(f"{model} is {what}, not a model directory (save_pretrained output)")
        return path, None
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise ConfigError(f"model directory {model} does not exist")
    try:
        validate_repo_id(model)
    except HFValidationError as exc:
        raise ConfigError(f"{model} is neither a local model directory nor a Hub model id ({exc})") from None
    return None, model


def check_results_model(results: list[dict[str, Any]], model: str) -> None:
    """Refuse eval results of another model than the card's (a local dir compares by path)."""

    def same(a: str, b: str) -> bool:
        return a == b or Path(a).expanduser().resolve() == Path(b).expanduser().resolve()

    for record in results:
        theirs = record.get("model")
        if isinstance(theirs, str) and not same(theirs, model):
            where = record.get("_path", "a results.json")
            raise ConfigError(
                f"{where} holds results of model {theirs!r}, not of {model!r}: not added to its card "
                "(--allow-other-model if they are the same model)"
            )


def results_table(eval_results: list[Any]) -> str:
    ours = [r for r in eval_results if r.source_name == SOURCE_NAME]
    if not ours:
        return ""
    from gorilla_rlaif.metrics.names import METRICS

    order = [key for key, _, _ in METRICS]
    columns = [k for k in order if any(r.metric_type == k for r in ours)]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in ours:
        rows.setdefault((r.dataset_config, r.dataset_split), {})[r.metric_type] = r
    labels = {r.metric_type: r.metric_name for r in ours}
    lines = [
        "## APIBench results (gorilla-bench)",
        "",
        "Percentages with [95% bootstrap interval over questions]. AST accuracy, hallucination and wrong-API "
        "rates follow Gorilla's AST sub-tree matching; executability is the share of answers whose code ran "
        "without error in an offline sandbox. Reproduce with `gorilla-bench eval`.",
        "",
        "| Hub | split | n | " + " | ".join(labels[c] for c in columns) + " |",
        "|---|---|--:|" + "--:|" * len(columns),
    ]
    for (hub, split), metrics in sorted(rows.items()):
        n = next(iter(metrics.values())).metric_args.get("n") if metrics else ""
        cells = []
        for c in columns:
            r = metrics.get(c)
            if r is None:
                cells.append("–")
                continue
            ci = (r.metric_args or {}).get("ci95")
            cells.append(f"{r.metric_value:.1f}" + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else ""))
        lines.append(f"| {HUB_LABELS.get(hub, hub)} | {split} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---- training provenance -> text ------------------------------------------------------------------
def training_section(record: dict[str, Any]) -> str:
    """How the model was made, from a trainer's record (the model directory's sidecar)."""
    config = record.get("config") or {}
    inputs = record.get("inputs") or {}
    model = inputs.get("model") or {}
    data = inputs.get("data") or {}
    versions = record.get("versions") or {}
    trainer = record.get("trainer", "?")
    method = f" ({record['method']})" if record.get("method") else ""
    lines = [
        "## Training",
        "",
        f"- **Trainer:** `{trainer}`{method}, TRL {versions.get('trl', '?')}, transformers {versions.get('transformers', '?')}, torch {versions.get('torch', '?')}",
    ]
    if model:
        base = model.get("model", "?")
        made = model.get("produced_by") or {}
        text = f"- **Base model:** `{base}`" + (
            f" (revision `{model['revision']}`)" if model.get("revision") else ""
        )
        if made:
            text += f", itself made by gorilla-rlaif `{made.get('trainer')}`"
        lines.append(text)
    for name in ("reward_model", "ref_model"):
        value = inputs.get(name)
        if isinstance(value, dict) and value.get("model"):
            lines.append(f"- **{name.replace('_', ' ').capitalize()}:** `{value['model']}`")
    if data.get("kind") == "apibench":
        lines.append(
            f"- **Data:** APIBench ({DATASET_ID}) {data.get('hub', '?')}, stage `{data.get('stage', '?')}` of "
            f"`make_splits` (split hash `{data.get('split_hash', '?')}`), {data.get('rows', '?')} rows"
        )
    elif data:
        parts = [f"`{data.get('path') or data.get('id') or '?'}`"]
        for key in ("config", "revision"):
            if data.get(key):
                parts.append(f"{key} `{data[key]}`")
        for role, info in (data.get("splits") or {}).items():
            if isinstance(info, dict):
                parts.append(f"{role}: split `{info.get('split')}`, {info.get('rows')} rows")
        lines.append("- **Data:** " + ", ".join(parts))
    keys = (
        "learning_rate",
        "max_steps",
        "num_train_epochs",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "seed",
        "precision",
    )
    hp = [f"{k}={config[k]}" for k in keys if config.get(k) is not None]
    if hp:
        lines.append("- **Hyperparameters:** " + ", ".join(hp) + " (all of them: `train_config.yaml`)")
    if record.get("duration_s") is not None:
        lines.append(f"- **Duration:** {record['duration_s']} s")
    if record.get("git_commit"):
        lines.append(
            f"- **gorilla-rlaif:** {record.get('toolkit_version', '?')} (commit `{str(record['git_commit'])[:12]}`)"
        )
    metrics = record.get("metrics") or {}
    flat = {}
    for key, value in metrics.items():  # numbers, one level deep (e.g. test_generation.well_formed_rate)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[key] = value
        elif isinstance(value, dict) and key != "train":
            for sub, v in value.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    flat[f"{key}.{sub}"] = v
    if flat:
        lines += ["", "Held-out metrics reported by the trainer:", "", "| metric | value |", "|---|--:|"]
        lines += [f"| {k} | {v:.4g} |" for k, v in flat.items()]
    lines += [
        "",
        f"The complete record (config, package versions, input hashes, log history) is `{TRAIN_RECORD}`.",
    ]
    return "\n".join(lines)


def _hub_id(value: Any) -> str | None:
    """A Hub repo id (org/name) as opposed to a local path."""
    if (
        isinstance(value, str)
        and re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", value)
        and not Path(value).exists()
    ):
        return value
    return None


# ---- the card -------------------------------------------------------------------------------------
def build_card(
    existing: str | None,
    *,
    model_name: str,
    repo: str,
    results: list[dict[str, Any]] | None = None,
    training: dict[str, Any] | None = None,
) -> Any:
    """A `ModelCard` = `existing` (text of a README.md, or None) updated with results and training."""
    from huggingface_hub import ModelCard, ModelCardData

    if existing is None:
        data = ModelCardData(
            model_name=model_name,
            library_name="transformers",
            pipeline_tag="text-generation",
            tags=["gorilla-rlaif", "rlaif", "code-generation", "api-usage", "gorilla", "apibench"],
            datasets=[DATASET_ID],
        )
        card = ModelCard.from_template(
            data,
            template_path=_template_path(),
            model_name=model_name,
            repo=repo,
            description="A causal language model for API-usage code generation, trained and/or evaluated with gorilla-rlaif.",
        )
    else:
        try:
            card = ModelCard(existing)
        except ValueError as exc:
            raise DataError(f"existing model card cannot be parsed: {exc}") from None
    data = card.data
    if training is not None:
        base = _hub_id((training.get("inputs") or {}).get("model", {}).get("model"))
        if base and not getattr(data, "base_model", None):
            data.base_model = base
        dataset = _hub_id(((training.get("inputs") or {}).get("data") or {}).get("path"))
        datasets = list(getattr(data, "datasets", None) or [])
        if dataset and dataset not in datasets:
            data.datasets = [*datasets, dataset]
    if results:
        new = [r for record in results for r in eval_results_from(record)]
        data.eval_results = merge_eval_results(getattr(data, "eval_results", None), new)
        if not getattr(data, "model_name", None):
            data.model_name = model_name
    text = card.content
    table = results_table(getattr(data, "eval_results", None) or [])
    if table:
        text = replace_section(text, "results", table)
    if training is not None:
        text = replace_section(text, "training", training_section(training))
    card = ModelCard(text)
    # Rebuild from data so the front matter is exactly what ModelCardData serialises (model-index).
    card.data = data
    return ModelCard(str(card))


def write_model_card(
    model_dir: str | Path,
    *,
    results: list[dict[str, Any]] | None = None,
    model_name: str | None = None,
    repo_id: str | None = None,
) -> Path:
    """Create or update `model_dir/README.md` with `results` and the trainer's record if present."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ConfigError(f"model directory {model_dir} does not exist")
    readme = model_dir / "README.md"
    existing = readme.read_text(encoding="utf-8") if readme.exists() else None
    training = None
    record = read_sidecar(model_dir)
    if record is not None and record.get("trainer"):  # a trainer's record (a built tiny model has none)
        training = record
    name = model_name or (repo_id.split("/")[-1] if repo_id else model_dir.resolve().name)
    card = build_card(
        existing, model_name=name, repo=repo_id or str(model_dir), results=results, training=training
    )
    from gorilla_rlaif.io import write_text

    write_text(readme, str(card))
    return readme


def load_hub_card(repo_id: str, *, token: str | None = None) -> str | None:
    """The README.md of a Hub model repo, or None when the repo has none yet."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, OfflineModeIsEnabled, RepositoryNotFoundError

    from gorilla_rlaif.models import hub_offline

    if hub_offline():  # offline, a missing file and a missing repo look the same: say which it is
        raise GorillaRlaifError(
            f"{repo_id} is not a local model directory, and HF_HUB_OFFLINE is set: its card on the Hub "
            "cannot be read (pass a model directory, or unset HF_HUB_OFFLINE)"
        )
    try:
        path = hf_hub_download(repo_id, "README.md", repo_type="model", token=token)
    except (EntryNotFoundError, RepositoryNotFoundError):
        return None
    except OfflineModeIsEnabled:
        raise GorillaRlaifError(
            f"{repo_id} is not a local model directory, and HF_HUB_OFFLINE is set: its card on the Hub "
            "cannot be read (pass a model directory, or unset HF_HUB_OFFLINE)"
        ) from None
    return Path(path).read_text(encoding="utf-8")


def push_model_card(card_text: str, repo_id: str, *, token: str | None = None) -> str:
    """Upload README.md to the model repo `repo_id` (created if missing) as one commit; return its URL."""
    from huggingface_hub import HfApi, ModelCard
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    from gorilla_rlaif.llm import redact

    try:
        HfApi(token=token).create_repo(repo_id, repo_type="model", exist_ok=True)
        url = ModelCard(card_text).push_to_hub(
            repo_id, token=token, commit_message="Update model card (gorilla-rlaif results)"
        )
    except OfflineModeIsEnabled:
        raise GorillaRlaifError("HF_HUB_OFFLINE is set: unset it to push to the Hub") from None
    except (HfHubHTTPError, ValueError) as exc:  # ValueError: the Hub rejected the card's metadata
        raise GorillaRlaifError(redact(f"pushing the card to {repo_id} failed: {exc}", [token])) from None
    return str(url)

"""The whole method end to end: `gorilla-rlaif pipeline --preset {tiny,paper} --output-dir DIR`.

`run_pipeline(config, DIR)` runs the stages of `stages.py` through the runner of `runner.py`
(skip what is up to date, resume what was interrupted, record everything in `DIR/pipeline.json`),
then writes `DIR/SUMMARY.md`: each stage's status and time, and where every artifact is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gorilla_rlaif.config import dump_config
from gorilla_rlaif.pipeline.config import (
    PRESETS,
    PipelineConfig,
    layout,
    load_pipeline_config,
    preset_data,
    preset_path,
    resolve,
)
from gorilla_rlaif.pipeline.runner import MANIFEST, Decision, Manifest, Pipeline, Stage
from gorilla_rlaif.provenance import package_versions, stable_hash

log = logging.getLogger(__name__)

__all__ = [
    "MANIFEST",
    "PRESETS",
    "Decision",
    "Manifest",
    "Pipeline",
    "PipelineConfig",
    "Stage",
    "layout",
    "load_pipeline_config",
    "make_pipeline",
    "preset_data",
    "preset_path",
    "resolve",
    "run_pipeline",
    "summary_text",
]


def make_pipeline(config: PipelineConfig, output_dir: str | Path, *, progress: bool = True) -> Pipeline:
    from gorilla_rlaif.pipeline.stages import build_stages, portable

    directory = Path(output_dir).expanduser().resolve()
    info = {
        "preset": config.name,
        "config_hash": stable_hash(portable(config, directory), length=32),
        "versions": package_versions(),
    }
    return Pipeline(build_stages(config, directory, progress=progress), directory, info)


def run_pipeline(
    config: PipelineConfig,
    output_dir: str | Path,
    *,
    progress: bool = True,
    until: str | None = None,
) -> dict[str, Any]:
    """Run (or resume) the pipeline in `output_dir`; return the manifest."""
    directory = Path(output_dir).expanduser().resolve()
    pipeline = make_pipeline(config, directory, progress=progress)
    directory.mkdir(parents=True, exist_ok=True)
    dump_config(config, layout(directory)["config"])
    if not progress:  # the stages' own bars; TRL's training bar follows the transformers log level
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
    if config.torch_threads is not None:
        import torch

        torch.set_num_threads(config.torch_threads)
    try:
        manifest = pipeline.run(progress=progress, until=until)
    finally:
        layout(directory)["summary"].write_text(summary_text(pipeline), encoding="utf-8")
    return manifest


WHERE = {
    "splits": "APIBench splits (sft / rm / rl / test JSONL + manifest)",
    "sft": "SFT model (`AutoModelForCausalLM.from_pretrained`)",
    "candidates": "sampled candidates",
    "feedback": "the judge's answers and scores per candidate",
    "dataset": 'preference dataset (`datasets.load_dataset(DIR, "preferences" | "binary" | "feedback")`)',
    "reward": "reward model (`AutoModelForSequenceClassification`)",
    "ppo": "PPO model",
    "dpo": "DPO model",
    "eval": "eval runs (`results.json`, `samples.jsonl` per model)",
    "report": "comparison table, plot and model cards",
    "config": "the resolved config (reusable with `--config`)",
    "manifest": "per-stage status, times, hashes, versions",
}


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def summary_text(pipeline: Pipeline) -> str:
    """Markdown: per stage, what happened in the last run, its time and outputs; then the report."""
    data = pipeline.manifest.data
    last = data["runs"][-1] if data["runs"] else {"ran": [], "skipped": []}
    lines = [
        f"# Pipeline run in `{pipeline.directory}`",
        "",
        f"Preset `{data['pipeline'].get('preset')}`, status **{data['pipeline'].get('status')}**, "
        f"finished {data['pipeline'].get('finished_at') or '-'}. Manifest: `{MANIFEST}`; "
        "re-running the same command skips every stage that is up to date.",
        "",
        "| # | stage | this run | time of the run that made it | outputs |",
        "|---|---|---|---|---|",
    ]
    for k, stage in enumerate(pipeline.stages, start=1):
        record = pipeline.manifest.stage(stage.name)
        if stage.name in last.get("ran", []):
            status = "ran"
        elif stage.name in last.get("skipped", []):
            status = "skipped (up to date)"
        else:
            status = record.get("status", "not run")
        outputs = f"`{record['outputs'][0]}`" if record.get("outputs") else ""
        lines.append(
            f"| {k} | {stage.name} | {status} | {_fmt_duration(record.get('duration_s'))} | {outputs} |"
        )
    total = sum(pipeline.manifest.stage(s.name).get("duration_s") or 0 for s in pipeline.stages)
    lines += ["", f"Sum of stage times: {_fmt_duration(total)}.", "", "## Where everything is", ""]
    paths = layout(pipeline.directory)
    for key, text in WHERE.items():
        if paths[key].exists():
            lines.append(f"- {text}: `{paths[key]}`")
    report = layout(pipeline.directory)["report"] / "comparison.md"
    if report.exists():
        lines += ["", report.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"

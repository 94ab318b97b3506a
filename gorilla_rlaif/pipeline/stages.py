"""The method's stages, each a call into the library function of its own module.

    data           gorilla_rlaif.data.make_splits            sft / rm / rl / test splits (shared)
    base           gorilla_rlaif.tiny.build_tiny_model       (tiny preset only) the base model (shared)
    then, for every seed s (stage names end in @s, artifacts in DIR/seed-<s>/):
    sft            trainers.sft                              SFT on the sft split
    generate       gorilla_rlaif.generate.generate_candidates K candidates per rm prompt
    label          gorilla_rlaif.judge.label                 the judge's eight answers per candidate
    judge-report   gorilla_rlaif.eval.judge_quality.judge_report  the judge against checkable ground truth
    publish        gorilla_rlaif.publish.build_dataset       versioned preference dataset (+ push)
    reward         trainers.reward                           the reward model
    ppo            trainers.ppo                              PPO from the SFT model (trl 1.12)
    rloo           trainers.rloo                             RLOO from the SFT model, RM reward
    dpo            trainers.dpo                              DPO from the SFT model
    eval-*         gorilla_rlaif.eval.run_eval               each model on the test split, in the sandbox
    and once:
    report         gorilla_rlaif.pipeline.report             mean +- sd over seeds, paired tests vs SFT,
                                                             judge quality, plot, model cards

Every stage reads only its declared inputs (upstream outputs, files) and writes only its outputs,
so the runner's hashes say exactly what has to re-run; a seed's stages do not depend on another
seed's, so adding a seed to a finished run runs only that seed (and the report).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gorilla_rlaif.config import identity
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.pipeline.config import PipelineConfig, Resolved, layout, resolve
from gorilla_rlaif.pipeline.runner import Stage
from gorilla_rlaif.sidecar import read_sidecar, sidecar_path

log = logging.getLogger(__name__)


def portable(config: Any, directory: Path) -> Any:
    """A stage's settings as JSON with paths inside the run directory written `$DIR/...`: moving
    a finished run elsewhere does not make every stage look changed. Operational fields (progress
    bars, batch sizes of eval, API pace) are left out: changing them re-runs nothing."""
    if isinstance(config, BaseModel):
        config = identity(config)
    root = str(directory.resolve())

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, str) and (value == root or value.startswith(root + "/")):
            return "$DIR" + value[len(root) :]
        return value

    return walk(json.loads(json.dumps(config, default=str)))


def stage_name(name: str, seed: int) -> str:
    """`sft@0`: the stage `name` of seed `seed`."""
    return f"{name}@{seed}"


def build_stages(config: PipelineConfig, directory: Path, *, progress: bool = True) -> list[Stage]:
    """The ordered stage list of `config` for a run in `directory`: the shared stages, then every
    stage of each seed in turn (an interrupted multi-seed run leaves whole seeds), then the report."""
    shared = layout(directory)
    stages: list[Stage] = []

    def add(stage: Stage) -> None:
        stage.config = portable(stage.config, directory)
        stages.append(stage)

    add(
        Stage(
            "data",
            f"split APIBench {config.data.hub} into sft / rm / rl / test",
            lambda: _data(config, shared["splits"]),
            outputs=(shared["splits"],),
            config=config.data,
        )
    )
    sft_after: tuple[str, ...] = ("data",)
    if config.base.model == "tiny":
        add(
            Stage(
                "base",
                "build the tiny base model (GPT-2 + BPE tokenizer trained on APIBench text)",
                lambda: _base(config, shared["base"]),
                outputs=(shared["base"],),
                config=config.base,
                keep_partial=False,
            )
        )
        sft_after = ("data", "base")
    for seed in config.seeds:
        for stage in _seed_stages(config, resolve(config, directory, seed), sft_after, progress):
            add(stage)
    report_after = [
        stage_name(name, seed)
        for seed in config.seeds
        for name in ("judge-report", "reward", *config.trained, *(f"eval-{n}" for n in config.trained))
    ]
    add(
        Stage(
            "report",
            f"comparison over {len(config.seeds)} seed(s): mean +- sd, paired tests vs SFT, judge "
            "quality, plot, model cards",
            lambda: _report(config, directory),
            outputs=(shared["report"], shared["report"] / "comparison.md"),
            after=tuple(report_after),
            config={
                "hub": config.data.hub,
                "name": config.name,
                "seeds": config.seeds,
                "models": config.trained,
            },
            keep_partial=False,
        )
    )
    return stages


def _seed_stages(
    config: PipelineConfig, r: Resolved, sft_after: tuple[str, ...], progress: bool
) -> list[Stage]:
    """Every stage of one seed, named `<stage>@<seed>`."""
    s = r.seed
    paths = layout(r.directory, s)

    def at(*names: str) -> tuple[str, ...]:
        return tuple(n if n in ("data", "base") else stage_name(n, s) for n in names)

    stages = [
        _trainer_stage(
            "sft", s, f"supervised fine-tuning of {config.base.model}", r.sft, at(*sft_after), config.launch
        ),
        Stage(
            stage_name("generate", s),
            f"sample {r.candidates.generation.num_candidates} candidates per reward-model prompt",
            lambda: _generate(r, progress),
            outputs=(paths["candidates"], sidecar_path(paths["candidates"])),
            after=at("data", "sft"),
            config=r.candidates,
        ),
        Stage(
            stage_name("label", s),
            f"ask the {r.label.judge.judge} judge the rubric's questions about every candidate",
            lambda: _label(r, progress),
            outputs=(paths["feedback"], sidecar_path(paths["feedback"])),
            after=at("generate"),
            # the judge's settings are in its config; a rubric given as a file is hashed too
            files=(Path(str(r.label.judge.rubric)),) if _rubric_is_file(r.label.judge.rubric) else (),
            config=r.label,
        ),
        Stage(
            stage_name("judge-report", s),
            "check the judge's answers against ground truth (code run in the "
            f"{r.judge_report.sandbox.backend if r.judge_report.sandbox else 'no'} sandbox)",
            lambda: _judge_report(r),
            outputs=(paths["judge_report"], paths["judge_report"] / "judge_quality.json"),
            after=at("label"),
            config=r.judge_report,
            identity=lambda: sandbox_identity(r.judge_report.sandbox),
        ),
        Stage(
            stage_name("publish", s),
            f"publish the preference dataset v{r.publish.version}"
            + (f" and push it to {r.publish.push_to_hub}" if r.publish.push_to_hub else ""),
            lambda: _publish(r),
            outputs=(paths["dataset"],),
            after=at("label"),
            config=r.publish,
            keep_partial=False,
        ),
        _trainer_stage(
            "reward",
            s,
            f"train the reward model ({r.reward.mode})",
            r.reward,
            at("sft", "publish"),
            config.launch,
        ),
    ]
    titles = {
        "ppo": ("PPO from the SFT model against the reward model", r.ppo, at("data", "sft", "reward")),
        "rloo": ("RLOO from the SFT model, reward = the reward model", r.rloo, at("data", "sft", "reward")),
        "dpo": ("DPO from the SFT model on the preference pairs", r.dpo, at("sft", "publish")),
    }
    for method in config.trained[1:]:
        title, cfg, after = titles[method]
        stages.append(_trainer_stage(method, s, title, cfg, after, config.launch))
    for name in config.trained:
        cfg = r.eval[name]
        stages.append(
            Stage(
                stage_name(f"eval-{name}", s),
                f"evaluate the {name} model on {config.data.hub} test ({_limit_text(cfg.limit)}, "
                f"{cfg.sandbox_backend} sandbox)",
                lambda cfg=cfg: _eval(cfg),
                outputs=(cfg.run_dir, cfg.run_dir / "results.json"),
                after=at("data", name),
                config=cfg,
                identity=lambda cfg=cfg: sandbox_identity(cfg.sandbox),
            )
        )
    return stages


def sandbox_identity(sandbox: Any) -> str | None:
    """The harness's `sandbox_hash` (limits, isolation, execution environment, stand-in world):
    a stage whose code runs in the sandbox is out of date when it changes."""
    if sandbox is None:
        return None
    from gorilla_rlaif.harness.run import sandbox_hash

    try:
        return sandbox_hash(sandbox)
    except Exception as exc:  # a remote sandbox that does not answer: the stage runs and says so
        return f"unavailable: {type(exc).__name__}"


def _limit_text(limit: int | None) -> str:
    return "all prompts" if limit is None else f"first {limit} prompts"


def _rubric_is_file(rubric: str | None) -> bool:
    return bool(rubric) and Path(str(rubric)).is_file()


# ---- stage bodies -------------------------------------------------------------------------------
def _data(config: PipelineConfig, out: Path) -> dict[str, Any]:
    from gorilla_rlaif.data import make_splits

    splits = make_splits(config.data)
    splits.save(out)
    return {"counts": splits.manifest["counts"], "test_mode": splits.manifest["test_mode"]}


def _base(config: PipelineConfig, out: Path) -> dict[str, Any]:
    from gorilla_rlaif.tiny import build_tiny_model

    path = build_tiny_model(config.base.tiny, output_dir=out)
    record = read_sidecar(path) or {}
    return {"parameters": record.get("parameters")}


def _trainer_stage(name: str, seed: int, title: str, cfg: Any, after: tuple[str, ...], launch: Any) -> Stage:
    from gorilla_rlaif.train import PROVENANCE_FILE

    out = Path(cfg.output_dir)
    return Stage(
        stage_name(name, seed),
        title,
        lambda: _train(name, cfg, launch),
        outputs=(out, out / PROVENANCE_FILE),
        after=after,
        config=cfg,
        volatile=("README.md", ".eval_results"),  # the model card: the report stage adds the eval results
    )


def _train(name: str, cfg: Any, launch: Any) -> dict[str, Any]:

    if launch.launcher == "accelerate":
        out = _accelerate_launch(name, cfg, launch)
    else:
        from gorilla_rlaif import trainers

        out = trainers.train(name, cfg)
    record = read_sidecar(Path(out)) or {}
    return {
        "launcher": launch.launcher,
        "duration_s": record.get("duration_s"),
        "metrics": _headline(record.get("metrics") or {}),
    }


def _accelerate_launch(name: str, cfg: Any, launch: Any) -> Path:
    """`accelerate launch ... -m gorilla_rlaif.cli rlaif train <name> --config <resolved config>`; waits."""
    import subprocess
    import sys

    from gorilla_rlaif.config import dump_config
    from gorilla_rlaif.errors import GorillaRlaifError

    out = Path(cfg.output_dir)
    config_file = out.parent / f"{name}.launch.yaml"  # next to the model dir, not inside it
    dump_config(cfg, config_file)
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if launch.accelerate_config:
        command += ["--config_file", launch.accelerate_config]
    command += ["--num_processes", str(launch.num_processes), *launch.extra_args]
    command += ["-m", "gorilla_rlaif.cli", "rlaif", "train", name, "--config", str(config_file)]
    log.info("launching %s", " ".join(command))
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise GorillaRlaifError(
            f"stage {name}: `{' '.join(command)}` exited with {done.returncode} (its output is above)"
        )
    return out


_TRAIN_KEYS = (
    "objective/rlhf_reward",
    "objective/rm_score",
    "objective/kl",
    "reward",
    "kl",
    "loss",
    "train_loss",
)


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The held-out numbers of a training record, plus first/last of the key training curves
    (the full log summaries stay in the record)."""
    out = {k: v for k, v in metrics.items() if k != "train"}
    train = metrics.get("train") or {}
    curves = {k: {"first": train[k]["first"], "last": train[k]["last"]} for k in _TRAIN_KEYS if k in train}
    if curves:
        out["train"] = curves
    return out


def _generate(r: Resolved, progress: bool) -> dict[str, Any]:
    from gorilla_rlaif.generate import generate_candidates

    return generate_candidates(r.candidates, progress=progress)


def _label(r: Resolved, progress: bool) -> dict[str, Any]:
    from gorilla_rlaif.judge import label

    summary = label(r.label, progress=progress)
    if not summary["ok"]:
        raise DataError(
            f"the judge answered for none of the {summary['rows']} candidates "
            f"(failures: {summary['failure_reasons']})",
            path=r.label.output,
        )
    return {k: summary[k] for k in ("rows", "ok", "failed", "mean_score", "score_histogram", "cost_usd")}


def _publish(r: Resolved) -> dict[str, Any]:
    from gorilla_rlaif.publish import build_dataset, push_dataset

    record = build_dataset(r.publish)
    counts = record["counts"]
    if not counts["preferences"]["train"]:
        raise DataError(
            "no preference pairs: every prompt's candidates got the same score "
            f"(score histogram {record['stats']['score_histogram']}); sample more candidates "
            "(generate.num_candidates), raise generate.temperature, or lower publish.margin",
            path=r.publish.output_dir,
        )
    if not counts["preferences"]["test"]:
        raise DataError(
            "the test split has no preference pairs; use more reward-model prompts "
            "(generate.limit) or a larger publish.test_fraction",
            path=r.publish.output_dir,
        )
    out: dict[str, Any] = {"version": r.publish.version, "counts": counts, "stats": record["stats"]}
    if r.publish.push_to_hub:
        out["pushed"] = push_dataset(
            r.publish.output_dir, r.publish.push_to_hub, r.publish.version, private=r.publish.private
        )
    return out


def _eval(cfg: Any) -> dict[str, Any]:
    from gorilla_rlaif.eval import RESULTS_FILE, run_eval

    run_dir = run_eval(cfg)
    record = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
    out: dict[str, Any] = {"status": record.get("status"), "run_dir": str(run_dir)}
    for hub, block in record.get("hubs", {}).items():
        out[hub] = {
            "n": block.get("n"),
            **{k: (v or {}).get("value") for k, v in (block.get("metrics") or {}).items()},
        }
    return out


def _judge_report(r: Resolved) -> dict[str, Any]:
    from gorilla_rlaif.eval.judge_quality import judge_report

    summary = judge_report(r.judge_report)
    questions = {
        q: (s.get("accuracy") or {}).get("value") for q, s in summary["questions"].items() if s.get("truth")
    }
    sv = summary.get("score_vs_execution") or {}
    return {"rows": summary["rows"], "accuracy": questions, "score_auc": sv.get("auc")}


TINY_CAVEAT = (
    "A 4-layer GPT-2 trained for minutes on 2 CPU cores, judged by the offline rules judge: this is "
    "not the paper's setting (GPT-2-large, GPT-3.5 feedback, GPUs). Compare the rows with each "
    "other, not with the paper's numbers."
)


def _report(config: PipelineConfig, directory: Path) -> dict[str, Any]:
    from gorilla_rlaif.pipeline.report import SeedRun, write_report
    from gorilla_rlaif.train import PROVENANCE_FILE

    runs = []
    for seed in config.seeds:
        r, paths = resolve(config, directory, seed), layout(directory, seed)
        runs.append(
            SeedRun(
                seed=seed,
                evals={name: r.eval[name].run_dir for name in config.trained},
                models={name: paths[name] for name in config.trained},
                records={
                    name: paths[name] / PROVENANCE_FILE for name in ("sft", "reward", *config.trained[1:])
                },
                judge_report=paths["judge_report"],
            )
        )
    return write_report(
        runs,
        layout(directory)["report"],
        hub=config.data.hub,
        name_prefix=f"gorilla-rlaif-{config.name}",
        caveat=TINY_CAVEAT if config.base.model == "tiny" else None,
    )


__all__ = ["build_stages", "portable", "stage_name"]

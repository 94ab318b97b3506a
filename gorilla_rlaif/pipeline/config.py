"""`PipelineConfig`: every setting of the whole method in one validated object, and its presets.

Sections map onto the config of the library function each stage calls; the pipeline fills in the
wiring (output paths, the model each stage starts from, the dataset it reads), so a section holds
only the method's settings:

| section    | becomes                                   | wired by the pipeline                       |
|------------|-------------------------------------------|---------------------------------------------|
| `data`     | `gorilla_rlaif.data.SplitConfig`          | (shared by every stage that reads APIBench) |
| `base`     | the base model: `tiny` (built) or an id   |                                             |
| `sft`      | `trainers.sft` `SFTRunConfig`             | model, output_dir, data.split               |
| `generate` | `GenerationConfig` (+ `limit` on prompts) | model, prompts, output                      |
| `judge`    | `gorilla_rlaif.judge.JudgeConfig`         | hub (default: data.hub)                     |
| `publish`  | `gorilla_rlaif.publish.PublishConfig`     | feedback, output_dir                        |
| `reward`   | `trainers.reward` `RewardRunConfig`       | model, output_dir, dataset.path             |
| `ppo`      | `trainers.ppo` `PPORunConfig`             | model, reward_model, output_dir, data.split |
| `dpo`      | `trainers.dpo` `DPORunConfig`             | model, output_dir, dataset.path             |
| `eval`     | `gorilla_rlaif.eval.EvalConfig`           | model, output, hub, split                   |

Keys a section may not set (the wiring) are refused with the key that controls them; unknown
keys get a "did you mean" against the target class. Each preset lives in one place: a training
section (`sft`, `reward`, `ppo`, `dpo`) starts from the trainer's own preset
(`trainers/configs/<trainer>_<preset>.yaml`, without the keys the pipeline wires) and the
pipeline preset (`presets/{tiny,paper}.yaml`) lists only what differs; the other sections are
written out there, every setting marked [paper], [ours] or [TRL].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gorilla_rlaif.config import deep_merge, load_config, parse_overrides, read_yaml, validate
from gorilla_rlaif.data.splits import SplitConfig
from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.judge.base import JudgeConfig
from gorilla_rlaif.tiny import TinyModelConfig

PRESET_DIR = Path(__file__).resolve().parent / "presets"
PRESETS = ("tiny", "paper")
TRAINED = ("sft", "ppo", "dpo")  # the models evaluated and carded, in the table's order


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaseModelSpec(_Strict):
    """The model SFT starts from: `tiny` (built offline by the toolkit) or a Hub id / local dir."""

    model: str = Field("tiny", description="'tiny', a Hub id (e.g. gpt2-large) or a local directory")
    revision: str | None = Field(None, description="Hub revision of `model`")
    tiny: TinyModelConfig = Field(default_factory=TinyModelConfig, description="used when model=tiny")


class LaunchConfig(_Strict):
    """How the training stages run. Every other stage is a call in the pipeline's own process.

    `inprocess` (default): the trainer's `train(config)` in this process, on one device (a GPU
    when one is visible; transformers' Trainer drives it through accelerate). `accelerate`: the
    trainer as `accelerate launch [--config_file F] --num_processes N -m gorilla_rlaif.cli rlaif train <name> --config
    <resolved yaml>`, for several GPUs or DeepSpeed/FSDP: N processes need N interpreters, so
    this is the one place the pipeline starts a subprocess; it waits for it and reads the same
    run record the in-process call would return.
    """

    launcher: Literal["inprocess", "accelerate"] = "inprocess"
    num_processes: int = Field(1, ge=1, description="processes (GPUs) for `accelerate launch`")
    accelerate_config: str | None = Field(
        None, description="`accelerate config` file (e.g. TRL's deepspeed_zero2.yaml)"
    )
    extra_args: list[str] = Field(
        default_factory=list, description="more `accelerate launch` flags, e.g. ['--cpu']"
    )


class PipelineConfig(_Strict):
    """The whole method: data -> SFT -> candidates -> judge -> dataset -> RM -> PPO/DPO -> eval -> report."""

    name: str = Field("custom", description="preset name, recorded in the manifest")
    torch_threads: int | None = Field(
        None,
        ge=1,
        description="torch intra-op threads; None: torch's default (all cores). On a machine shared "
        "with other jobs, 1 was 4x faster for the tiny model (threads spin against each other)",
    )
    launch: LaunchConfig = Field(default_factory=LaunchConfig)
    data: SplitConfig = Field(default_factory=SplitConfig)
    base: BaseModelSpec = Field(default_factory=BaseModelSpec)
    sft: dict[str, Any] = Field(default_factory=dict, description="SFTRunConfig fields")
    generate: dict[str, Any] = Field(
        default_factory=dict, description="GenerationConfig fields + `limit` (RM prompts used)"
    )
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    publish: dict[str, Any] = Field(
        default_factory=lambda: {"version": "0.1.0"}, description="PublishConfig fields"
    )
    reward: dict[str, Any] = Field(default_factory=dict, description="RewardRunConfig fields")
    ppo: dict[str, Any] = Field(default_factory=dict, description="PPORunConfig fields")
    dpo: dict[str, Any] = Field(default_factory=dict, description="DPORunConfig fields")
    eval: dict[str, Any] = Field(default_factory=dict, description="EvalConfig fields")

    @model_validator(mode="after")
    def _check_sections(self) -> PipelineConfig:
        resolve(self, Path("/pipeline-output"))  # every section must build; errors name the key
        return self


@dataclass
class Resolved:
    """The config of each stage's library call, with the pipeline's wiring filled in."""

    directory: Path
    base_model: str
    sft: Any
    candidates: Any
    label: Any
    publish: Any
    reward: Any
    ppo: Any
    dpo: Any
    eval: dict[str, Any]


def layout(directory: Path) -> dict[str, Path]:
    """Where every artifact of a pipeline run lives (printed in the final summary)."""
    d = directory
    return {
        "manifest": d / "pipeline.json",
        "config": d / "pipeline_config.yaml",
        "splits": d / "data" / "splits",
        "base": d / "models" / "base",
        "sft": d / "models" / "sft",
        "candidates": d / "feedback" / "candidates.jsonl",
        "feedback": d / "feedback" / "feedback.jsonl",
        "dataset": d / "dataset",
        "reward": d / "models" / "reward",
        "ppo": d / "models" / "ppo",
        "dpo": d / "models" / "dpo",
        "eval": d / "eval",
        "report": d / "report",
        "summary": d / "SUMMARY.md",
    }


WIRING_HELP = {
    "model": "the previous stage's model; the base model is `base.model`",
    "model_revision": "`base.revision`",
    "output_dir": "DIR/models/<stage>",
    "output": "a file under DIR",
    "reward_model": "the `reward` stage's model",
    "data": "`data.*` (one split for every stage)",
    "split": "`data.*` (one split for every stage)",
    "dataset": "the `publish` stage's dataset",
    "path": "the `publish` stage's dataset",
    "feedback": "the `label` stage's output",
    "overwrite": "the pipeline, which removes stale outputs itself",
    "hubs": "`data.hub`",
    "split_seed": "`data.seed`",
    "data_dir": "`data.data_dir`",
    "output_path": "DIR/eval",
    "run_name": "the model's stage name",
}


def _section(cls: type[BaseModel], name: str, values: dict[str, Any], wiring: dict[str, Any]) -> Any:
    """Build `cls` from a section + the wiring; wiring keys set by the user are an error."""

    def refuse(key: str, leaf: str) -> ConfigError:
        return ConfigError(f"{name}.{key} is set by the pipeline: {WIRING_HELP.get(leaf, 'not a setting')}")

    for key, value in wiring.items():
        if key not in values:
            continue
        if isinstance(value, dict) and isinstance(values[key], dict):
            clash = sorted(set(values[key]) & set(value))
            if clash:
                raise refuse(f"{key}.{clash[0]}", clash[0])
        else:
            raise refuse(key, key)
    return validate(cls, deep_merge(values, wiring), prefix=f"{name}.")


def resolve(config: PipelineConfig, directory: Path) -> Resolved:
    """Every stage's config for a run in `directory`. Pure: builds objects, touches no file."""
    from gorilla_rlaif.generate import CandidatesConfig, GenerationConfig
    from gorilla_rlaif.judge import LabelConfig
    from gorilla_rlaif.publish import PublishConfig
    from gorilla_rlaif.train.config import DPORunConfig, PPORunConfig, RewardRunConfig, SFTRunConfig

    paths = layout(directory)
    split = config.data.model_dump(mode="json")
    base_model = str(paths["base"]) if config.base.model == "tiny" else config.base.model
    sft = _section(
        SFTRunConfig,
        "sft",
        config.sft,
        {
            "model": base_model,
            "model_revision": config.base.revision,
            "output_dir": str(paths["sft"]),
            "data": {"split": split},
        },
    )
    generate = dict(config.generate)
    limit = generate.pop("limit", None)
    generation = _section(GenerationConfig, "generate", generate, {"model": str(paths["sft"])})
    candidates = CandidatesConfig(
        prompts=str(paths["splits"] / "rm.jsonl"),
        output=str(paths["candidates"]),
        generation=generation,
        limit=limit,
    )
    judge = config.judge
    if judge.rules.hub is None:
        rules = judge.rules.model_copy(update={"hub": config.data.hub})
        judge = judge.model_copy(update={"rules": rules})
    label = LabelConfig(candidates=str(paths["candidates"]), output=str(paths["feedback"]), judge=judge)
    publish = _section(
        PublishConfig,
        "publish",
        config.publish,
        {"feedback": [str(paths["feedback"])], "output_dir": str(paths["dataset"]), "overwrite": True},
    )
    dataset = {"path": str(paths["dataset"])}
    reward = _section(
        RewardRunConfig,
        "reward",
        config.reward,
        {"model": str(paths["sft"]), "output_dir": str(paths["reward"]), "dataset": dataset},
    )
    ppo = _section(
        PPORunConfig,
        "ppo",
        config.ppo,
        {
            "model": str(paths["sft"]),
            "reward_model": str(paths["reward"]),
            "output_dir": str(paths["ppo"]),
            "data": {"split": split},
        },
    )
    dpo = _section(
        DPORunConfig,
        "dpo",
        config.dpo,
        {"model": str(paths["sft"]), "output_dir": str(paths["dpo"]), "dataset": dataset},
    )
    evals = {name: resolve_eval(config, directory, name) for name in TRAINED}
    return Resolved(
        directory=directory,
        base_model=base_model,
        sft=sft,
        candidates=candidates,
        label=label,
        publish=publish,
        reward=reward,
        ppo=ppo,
        dpo=dpo,
        eval=evals,
    )


def resolve_eval(config: PipelineConfig, directory: Path, model: str) -> Any:
    """The eval of one trained model: the test split of `data.hub`, results in DIR/eval/<model>."""
    from gorilla_rlaif.eval import EvalConfig

    d = config.data
    if d.test != "eval" or d.holdout_fraction != SplitConfig.model_fields["holdout_fraction"].default:
        # gorilla-bench evaluates the test split that make_splits gives for (hub, seed, data_dir)
        raise ConfigError(
            "data.test and data.holdout_fraction must keep their defaults: the eval stage scores "
            "the standard test split (the hub's eval file, or its seeded 20% hold-out)"
        )
    return _section(
        EvalConfig,
        "eval",
        config.eval,
        {
            "model": str(layout(directory)[model]),
            "hubs": [d.hub],
            "split": "test",
            "split_seed": d.seed,
            "data_dir": d.data_dir,
            "output_path": str(layout(directory)["eval"]),
            "run_name": model,
        },
    )


def preset_path(preset: str) -> Path:
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return PRESET_DIR / f"{preset}.yaml"


TRAINER_SECTIONS = ("sft", "reward", "ppo", "dpo")
# Keys of a trainer preset that the pipeline sets itself: a section never inherits them.
PRESET_WIRING = (
    "model",
    "model_revision",
    "tiny",
    "output_dir",
    "reward_model",
    "data.split",
    "dataset.path",
)


def _without(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for key in keys:
        parent, _, leaf = key.rpartition(".")
        node = out.get(parent) if parent else out
        if isinstance(node, dict):
            node.pop(leaf, None)
    return out


def trainer_preset(section: str, preset: str) -> dict[str, Any]:
    """Where a training section starts: the trainer's preset without the pipeline's wiring."""
    from gorilla_rlaif.trainers import preset_path as trainer_preset_path

    return _without(read_yaml(trainer_preset_path(section, preset)), PRESET_WIRING)


def preset_data(preset: str) -> dict[str, Any]:
    """The pipeline preset as a dict: its own file, each training section on top of its trainer's."""
    data = read_yaml(preset_path(preset))
    for section in TRAINER_SECTIONS:
        data[section] = deep_merge(trainer_preset(section, preset), data.get(section) or {})
    return data


def load_pipeline_config(
    preset: str | None = "tiny",
    config_path: str | Path | None = None,
    overrides: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> PipelineConfig:
    """Preset < `--config FILE` < command-line flags (`--judge`, ...) < `key=value` overrides."""
    data: dict[str, Any] = preset_data(preset) if preset else {}
    if config_path is not None:
        data = deep_merge(data, read_yaml(config_path))
    if flags:
        data = deep_merge(data, flags)
    if overrides:
        data = deep_merge(data, parse_overrides(overrides))
    return load_config(PipelineConfig, None, None, base=data)

"""One pydantic config per trainer, validated in full before any model is loaded.

Each config holds what we decide (data, model lineage, the method's key knobs, CPU/GPU flags) as
typed fields; any other field of the TRL config class can be set under `trl:` and is checked
against that class (unknown names get a "did you mean"). Field descriptions say where a default
comes from; the YAML presets in `trainers/configs/` say, per setting, whether it is the paper's or
ours. Configs are loaded with `gorilla_rlaif.config.load_config` (defaults < preset < YAML <
`key=value`), so a typo anywhere is an error, not a silent default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gorilla_rlaif.data.splits import SplitConfig
from gorilla_rlaif.harness.config import SandboxConfig
from gorilla_rlaif.tiny import TinyModelConfig

TINY = "tiny"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreferenceData(_Strict):
    """A dataset published by `gorilla-rlaif preferences` (or any with the same columns).

    `path` is a local Hub-layout directory or a Hub repo id; `name` the config (`preferences`,
    `binary`); `revision` a tag/branch/commit on the Hub (e.g. `v0.1.0`).
    """

    path: str | None = Field(None, description="local dataset directory or Hub repo id (required)")
    name: str | None = Field(None, description="dataset config; default depends on the trainer")
    revision: str | None = None
    train_split: str = "train"
    test_split: str | None = Field("test", description="held-out split for the reported accuracy")
    max_train_samples: int | None = Field(None, ge=1)
    max_test_samples: int | None = Field(None, ge=1)


class ApiBenchPrompts(_Strict):
    """Prompts (and SFT targets) from APIBench, split by `gorilla_rlaif.data.make_splits`."""

    split: SplitConfig = Field(default_factory=SplitConfig)
    stage: Literal["sft", "rm", "rl", "test"] = "sft"
    max_samples: int | None = Field(None, ge=1, description="use the first N records of the stage")
    eval_samples: int = Field(0, ge=0, description="test-split prompts for the post-training report")


class TrainConfig(_Strict):
    """Settings every trainer shares. Optimiser fields map 1:1 onto TRL/transformers arguments."""

    model: str = Field(
        TINY, description="causal LM: local dir or Hub id; 'tiny' builds the toolkit's tiny GPT-2"
    )
    model_revision: str | None = None
    tiny: TinyModelConfig = Field(default_factory=TinyModelConfig, description="used when model='tiny'")
    output_dir: str = Field(..., description="final model + its record (gorilla_rlaif.meta.json) land here")
    overwrite: bool = Field(False, description="replace a finished run in output_dir")
    seed: int = 0

    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 on a GPU that supports it, else fp32"
    )
    learning_rate: float = Field(5e-5, gt=0)
    max_steps: int = Field(-1, ge=-1, description="optimizer steps; -1: run num_train_epochs")
    num_train_epochs: float = Field(1.0, gt=0)
    per_device_train_batch_size: int = Field(8, ge=1)
    per_device_eval_batch_size: int = Field(8, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    warmup_steps: int = Field(0, ge=0)
    lr_scheduler_type: str = "linear"
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    logging_steps: int = Field(10, ge=1)
    save_steps: int | None = Field(
        None, ge=1, description="checkpoint every N steps so an interrupted run resumes; None: no checkpoints"
    )
    gradient_checkpointing: bool = Field(
        False, description="TRL defaults to True; it only slows small models"
    )
    trl: dict[str, Any] = Field(
        default_factory=dict, description="any other field of the TRL config class, passed through"
    )

    @field_validator("max_steps")
    @classmethod
    def _max_steps(cls, value: int) -> int:
        if value == 0:
            raise ValueError("use -1 (train num_train_epochs) or at least 1 step")
        return value


class SFTRunConfig(TrainConfig):
    """Supervised fine-tuning on APIBench prompt -> completion pairs (loss on the completion)."""

    data: ApiBenchPrompts = Field(default_factory=ApiBenchPrompts)
    max_length: int = Field(512, ge=16, description="tokens per example; longer ones are truncated")
    completion_only_loss: bool = True
    eval_max_new_tokens: int = Field(192, ge=1, description="generation budget of the post-training report")


class RewardRunConfig(TrainConfig):
    """Reward model: pairwise (Bradley-Terry, TRL RewardTrainer) or the paper's acceptability classifier."""

    mode: Literal["pairwise", "classifier"] = "pairwise"
    dataset: PreferenceData = Field(default_factory=PreferenceData)
    max_length: int = Field(512, ge=16, description="pairs longer than this are dropped (TRL)")
    center_rewards_coefficient: float | None = None

    @model_validator(mode="after")
    def _default_dataset_config(self) -> RewardRunConfig:
        if self.dataset.name is None:
            self.dataset.name = "preferences" if self.mode == "pairwise" else "binary"
        return self


class DPORunConfig(TrainConfig):
    """Direct preference optimisation on the `preferences` config (the paper's DPO variant)."""

    dataset: PreferenceData = Field(default_factory=lambda: PreferenceData(name="preferences"))
    beta: float = Field(0.1, gt=0, description="TRL default")
    max_length: int = Field(512, ge=16)

    @model_validator(mode="after")
    def _default_dataset_config(self) -> DPORunConfig:
        self.dataset.name = self.dataset.name or "preferences"
        return self


class PPORunConfig(TrainConfig):
    """PPO (the paper's RL step): policy = `model` (the SFT checkpoint), reward = `reward_model`."""

    reward_model: str | None = Field(None, description="sequence-classification RM dir (required)")
    value_model: str | None = Field(None, description="value model init; default: the reward model")
    data: ApiBenchPrompts = Field(default_factory=lambda: ApiBenchPrompts(stage="rl"))
    total_episodes: int | None = Field(None, ge=1, description="prompts sampled in all; default: one epoch")
    num_mini_batches: int = Field(1, ge=1)
    num_ppo_epochs: int = Field(4, ge=1, description="TRL default")
    local_rollout_forward_batch_size: int = Field(8, ge=1)
    response_length: int = Field(128, ge=1, description="max new tokens per rollout")
    temperature: float = Field(0.7, gt=0, description="TRL default")
    kl_coef: float = Field(0.05, ge=0, description="TRL default")
    missing_eos_penalty: float | None = Field(1.0, description="subtracted when a response never ends")
    max_prompt_length: int = Field(256, ge=8, description="prompts are left-truncated to this")

    @model_validator(mode="after")
    def _check(self) -> PPORunConfig:
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if batch % self.num_mini_batches:
            raise ValueError(
                f"per_device_train_batch_size x gradient_accumulation_steps ({batch}) must be a multiple "
                f"of num_mini_batches ({self.num_mini_batches})"
            )
        return self


class RewardModelSpec(_Strict):
    """Score = the reward model's logit on prompt + completion + EOS (as it was trained)."""

    kind: Literal["reward_model"] = "reward_model"
    path: str
    weight: float = 1.0
    batch_size: int = Field(16, ge=1)
    max_length: int = Field(512, ge=16)


class FormatSpec(_Strict):
    """Score = share of the five Gorilla sections present (a cheap shaping term; our choice)."""

    kind: Literal["format"] = "format"
    weight: float = 1.0


def _local_sandbox() -> SandboxConfig:
    return SandboxConfig(backend="local")


class ExecutionSpec(_Strict):
    """Execution-grounded score: sandbox verdict of the code + AST match of the API call."""

    kind: Literal["execution"] = "execution"
    weight: float = 1.0
    exec_weight: float = Field(0.5, ge=0, description="share of the sandbox verdict in this score")
    ast_weight: float = Field(0.5, ge=0, description="share of the AST verdict in this score")
    sandbox: SandboxConfig = Field(
        default_factory=_local_sandbox,
        description="the harness's SandboxConfig, whole (default: the local backend, against the "
        "APIBench world: gorilla_rlaif.harness.world)",
    )


RewardSpec = Annotated[RewardModelSpec | FormatSpec | ExecutionSpec, Field(discriminator="kind")]


class OnlineRLConfig(TrainConfig):
    """What TRL's online trainers with reward callables share (GRPO, RLOO): sample a group of
    `num_generations` completions per prompt, score them with `rewards` (a weighted sum, TRL's
    `reward_weights`), update the policy. Subclasses change defaults only."""

    rewards: list[RewardSpec] = Field(
        ...,
        min_length=1,
        description="[{kind: reward_model, path: DIR}, {kind: execution}, {kind: format}], each with a weight",
    )
    data: ApiBenchPrompts = Field(default_factory=lambda: ApiBenchPrompts(stage="rl"))
    num_generations: int = Field(4, ge=2, description="completions per prompt (the group)")
    max_completion_length: int = Field(128, ge=1)
    temperature: float = Field(1.0, gt=0, description="TRL default")
    beta: float = Field(0.0, ge=0, description="KL coefficient")

    @model_validator(mode="after")
    def _check(self) -> OnlineRLConfig:
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ValueError(
                f"the generation batch (per_device_train_batch_size x gradient_accumulation_steps = {batch}) "
                f"must be a multiple of num_generations ({self.num_generations})"
            )
        return self


class GRPORunConfig(OnlineRLConfig):
    """GRPO with AI-feedback, execution or combined rewards (group-normalised advantages)."""

    beta: float = Field(0.0, ge=0, description="KL coefficient; TRL default 0")


class RLOORunConfig(OnlineRLConfig):
    """RLOO (REINFORCE leave-one-out): each completion's baseline is the mean reward of the other
    completions of its prompt; no value model. TRL's stable online trainer (PPO is not)."""

    beta: float = Field(0.05, ge=0, description="KL coefficient to the reference (SFT) model; TRL default")


CONFIGS: dict[str, type[TrainConfig]] = {
    "sft": SFTRunConfig,
    "reward": RewardRunConfig,
    "ppo": PPORunConfig,
    "dpo": DPORunConfig,
    "grpo": GRPORunConfig,
    "rloo": RLOORunConfig,
}

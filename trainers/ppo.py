"""PPO, the paper's RL step: TRL's PPOTrainer (trl.experimental.ppo, trl 1.12 line).

Policy = `model` (the SFT checkpoint); reference = a frozen copy of it; reward = `reward_model`
(a `gorilla-rlaif train reward` output, one-logit sequence classifier); value model initialised
from `value_model` (default: the reward model); prompts from the APIBench RL split. Logged per
rollout batch: mean reward, KL to the reference, response length (see gorilla_rlaif.train.compat).

    gorilla-rlaif train ppo --preset tiny model=runs/sft reward_model=runs/rm output_dir=runs/ppo
"""

from __future__ import annotations

import logging
from pathlib import Path

from gorilla_rlaif.train.config import PPORunConfig

CONFIG = PPORunConfig
log = logging.getLogger(__name__)


def train(config: PPORunConfig, *, dry_run: bool = False) -> Path | None:
    from gorilla_rlaif.errors import ConfigError
    from gorilla_rlaif.train.compat import ppo_classes, ppo_trainer_class
    from gorilla_rlaif.train.data import load_apibench_prompts
    from gorilla_rlaif.train.run import TrainRun, describe_model, resolve_model, summarize_log, training_args

    if not config.reward_model:
        raise ConfigError("ppo needs reward_model=DIR (the output of `gorilla-rlaif train reward`)")
    model_path = resolve_model(config.model, config.tiny, role="policy")
    reward_path = resolve_model(config.reward_model, role="reward model")
    value_path = resolve_model(config.value_model or config.reward_model, role="value model")
    data = load_apibench_prompts(config.data, with_targets=False)
    PPOConfig, _ = ppo_classes()

    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, revision=config.model_revision, padding_side="left")
    for other in {reward_path, value_path}:  # PPO hands the policy's token ids to these models as is
        if AutoTokenizer.from_pretrained(other).get_vocab() != tokenizer.get_vocab():
            raise ConfigError(
                f"{other} uses a different tokenizer than the policy {model_path}; PPO needs the same"
            )
    args = training_args(
        PPOConfig,
        config,
        total_episodes=config.total_episodes,
        num_mini_batches=config.num_mini_batches,
        num_ppo_epochs=config.num_ppo_epochs,
        local_rollout_forward_batch_size=config.local_rollout_forward_batch_size,
        response_length=config.response_length,
        temperature=config.temperature,
        kl_coef=config.kl_coef,
        missing_eos_penalty=config.missing_eos_penalty,
        stop_token="eos",
        num_sample_generations=0,
    )
    if dry_run:
        return None

    run = TrainRun.start("ppo", config)
    if run.resume_from:
        log.warning("PPOTrainer cannot resume from a checkpoint: starting over")
    run.inputs = {
        "model": describe_model(model_path, config.model_revision),
        "reward_model": describe_model(reward_path),
        "value_model": describe_model(value_path),
        "data": data.provenance,
    }
    policy = AutoModelForCausalLM.from_pretrained(model_path, revision=config.model_revision)
    ref_policy = AutoModelForCausalLM.from_pretrained(model_path, revision=config.model_revision)
    reward_model = AutoModelForSequenceClassification.from_pretrained(reward_path, num_labels=1)
    value_model = AutoModelForSequenceClassification.from_pretrained(value_path, num_labels=1)
    for m in (reward_model, value_model):
        m.config.pad_token_id = tokenizer.pad_token_id

    def encode(row: dict) -> dict:
        ids = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
        return {"input_ids": ids[-config.max_prompt_length :]}

    prompts = data.train.map(encode, remove_columns=data.train.column_names)
    trainer = ppo_trainer_class()(
        args=args,
        processing_class=tokenizer,
        model=policy,
        ref_model=ref_policy,
        reward_model=reward_model,
        train_dataset=prompts,
        value_model=value_model,
    )
    trainer.train()

    keys = (
        "objective/scores",
        "objective/rm_score",
        "objective/kl",
        "objective/response_length",
        "objective/entropy",
        "objective/rlhf_reward",
        "loss/policy_avg",
        "loss/value_avg",
        "val/num_eos_tokens",
    )
    metrics = {"train": summarize_log(trainer.state.log_history, keys)}
    if data.records["test"] and trainer.is_world_process_zero():
        from gorilla_rlaif.train.quality import policy_report

        metrics["test_generation"] = policy_report(
            policy, tokenizer, data.records["test"], max_new_tokens=config.response_length
        )
    return run.finish(trainer, tokenizer, metrics=metrics)

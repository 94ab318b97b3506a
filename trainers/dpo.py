"""DPO: TRL's DPOTrainer on the `preferences` config, from the SFT model (the paper's DPO variant).

The reference model is a frozen copy of `model` (TRL makes it). Reports the held-out preference
accuracy of the implicit reward (chosen log-ratio > rejected log-ratio) and its margin.

    gorilla-rlaif train dpo --preset tiny model=runs/sft dataset.path=runs/prefs output_dir=runs/dpo
"""

from __future__ import annotations

from pathlib import Path

from gorilla_rlaif.train.config import DPORunConfig

CONFIG = DPORunConfig


def train(config: DPORunConfig, *, dry_run: bool = False) -> Path | None:
    from trl import DPOConfig, DPOTrainer

    from gorilla_rlaif.train.data import PREFERENCE_COLUMNS, load_preference_data
    from gorilla_rlaif.train.run import TrainRun, describe_model, resolve_model, summarize_log, training_args

    model_path = resolve_model(config.model, config.tiny, role="policy")
    data = load_preference_data(config.dataset, PREFERENCE_COLUMNS)
    args = training_args(DPOConfig, config, beta=config.beta, max_length=config.max_length)
    if dry_run:
        return None

    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = TrainRun.start("dpo", config)
    run.inputs = {"model": describe_model(model_path, config.model_revision), "data": data.provenance}
    tokenizer = AutoTokenizer.from_pretrained(model_path, revision=config.model_revision)
    model = AutoModelForCausalLM.from_pretrained(model_path, revision=config.model_revision)
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=data.train.select_columns(list(PREFERENCE_COLUMNS)),
        processing_class=tokenizer,
    )
    trainer.train(resume_from_checkpoint=run.resume_from)

    keys = (
        "loss",
        "rewards/accuracies",
        "rewards/margins",
        "rewards/chosen",
        "rewards/rejected",
        "train_loss",
    )
    metrics = {"train": summarize_log(trainer.state.log_history, keys)}
    if data.test is not None and trainer.is_world_process_zero():
        reference = AutoModelForCausalLM.from_pretrained(model_path, revision=config.model_revision)
        metrics["test"] = implicit_reward_accuracy(trainer.model, reference, tokenizer, data.test, config)
    return run.finish(trainer, tokenizer, metrics=metrics)


def implicit_reward_accuracy(policy, reference, tokenizer, test, config: DPORunConfig) -> dict:
    """Share of held-out pairs whose DPO implicit reward beta*log(pi/pi_ref) ranks chosen first.

    Computed exactly over all pairs (TRL's eval accuracy is a mean of per-batch means).
    """
    from gorilla_rlaif.train.quality import completion_logprobs

    reference.to(next(policy.parameters()).device)
    rewards = {}
    for side in ("chosen", "rejected"):
        pol = completion_logprobs(policy, tokenizer, test["prompt"], test[side], max_length=config.max_length)
        ref = completion_logprobs(
            reference, tokenizer, test["prompt"], test[side], max_length=config.max_length
        )
        rewards[side] = [config.beta * (p - r) for p, r in zip(pol, ref, strict=True)]
    margins = [c - r for c, r in zip(rewards["chosen"], rewards["rejected"], strict=True)]
    return {
        "n": len(margins),
        "preference_accuracy": sum(m > 0 for m in margins) / len(margins),
        "mean_margin": sum(margins) / len(margins),
    }

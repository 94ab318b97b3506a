"""Reward model: TRL's RewardTrainer on `preferences` pairs, or the paper's acceptability classifier.

mode=pairwise    Bradley-Terry on (prompt, chosen, rejected); reports held-out pairwise accuracy.
mode=classifier  the paper's RM: a one-logit classifier of `label` (score >= threshold) on the
                 `binary` config, BCE loss with transformers' Trainer (TRL has no classifier
                 trainer); the logit (log-odds of "acceptable") is the reward. Reports accuracy.

Both save an `AutoModelForSequenceClassification` with one label that PPO and GRPO use as is.

    gorilla-rlaif train reward --preset tiny dataset.path=runs/prefs model=runs/sft output_dir=runs/rm
"""

from __future__ import annotations

from pathlib import Path

from gorilla_rlaif.train.config import RewardRunConfig

CONFIG = RewardRunConfig


def train(config: RewardRunConfig, *, dry_run: bool = False) -> Path | None:
    from transformers import TrainingArguments
    from trl import RewardConfig

    from gorilla_rlaif.train.data import BINARY_COLUMNS, PREFERENCE_COLUMNS, load_preference_data
    from gorilla_rlaif.train.run import TrainRun, describe_model, resolve_model, summarize_log, training_args

    pairwise = config.mode == "pairwise"
    model_path = resolve_model(config.model, config.tiny, role="base model")
    data = load_preference_data(config.dataset, PREFERENCE_COLUMNS if pairwise else BINARY_COLUMNS)
    if pairwise:
        args = training_args(
            RewardConfig,
            config,
            max_length=config.max_length,
            center_rewards_coefficient=config.center_rewards_coefficient,
        )
    else:
        args = training_args(TrainingArguments, config)
    if dry_run:
        return None

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from gorilla_rlaif.train.rewards import SequenceScorer

    run = TrainRun.start("reward", config, method=config.mode)
    run.inputs = {"model": describe_model(model_path, config.model_revision), "data": data.provenance}
    tokenizer = AutoTokenizer.from_pretrained(model_path, revision=config.model_revision)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=1, revision=config.model_revision
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    scorer = SequenceScorer(
        model, tokenizer, batch_size=config.per_device_eval_batch_size, max_length=config.max_length
    )

    if pairwise:
        from trl import RewardTrainer

        train_set = data.train.select_columns(list(PREFERENCE_COLUMNS))
        trainer = RewardTrainer(model=model, args=args, train_dataset=train_set, processing_class=tokenizer)
    else:
        from transformers import DataCollatorWithPadding, Trainer

        model.config.problem_type = "multi_label_classification"  # one logit + BCEWithLogits

        def encode(row: dict) -> dict:
            text = scorer.pair_text(row["prompt"], row["completion"])
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            return {"input_ids": ids[-config.max_length :], "labels": [float(row["label"])]}

        train_set = data.train.map(encode, remove_columns=data.train.column_names)
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_set,
            data_collator=DataCollatorWithPadding(tokenizer),
            processing_class=tokenizer,
        )
    trainer.train(resume_from_checkpoint=run.resume_from)

    metrics = {
        "train": summarize_log(trainer.state.log_history, ("loss", "accuracy", "margin", "train_loss"))
    }
    if data.test is not None and trainer.is_world_process_zero():
        metrics["test"] = held_out_metrics(scorer, data.test, pairwise=pairwise)
    return run.finish(trainer, tokenizer, metrics=metrics)


def held_out_metrics(scorer, test, *, pairwise: bool) -> dict:
    """Pairwise accuracy (chosen scored above rejected) or classification accuracy (logit > 0)."""
    if pairwise:
        chosen = scorer.score_pairs(test["prompt"], test["chosen"])
        rejected = scorer.score_pairs(test["prompt"], test["rejected"])
        margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
        return {
            "n": len(margins),
            "pairwise_accuracy": sum(m > 0 for m in margins) / len(margins),
            "mean_margin": sum(margins) / len(margins),
        }
    logits = scorer.score_pairs(test["prompt"], test["completion"])
    labels = [bool(x) for x in test["label"]]
    positive = sum(labels) / len(labels)
    return {
        "n": len(labels),
        "accuracy": sum((s > 0) == y for s, y in zip(logits, labels, strict=True)) / len(labels),
        "majority_baseline": max(positive, 1 - positive),
        "positive_rate": positive,
        "predicted_positive_rate": sum(s > 0 for s in logits) / len(logits),
    }

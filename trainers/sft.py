"""SFT: TRL's SFTTrainer on APIBench prompt -> completion pairs, loss on the completion only.

gorilla-rlaif train sft --preset tiny output_dir=runs/sft
accelerate launch -m gorilla_rlaif.cli rlaif train sft --config trainers/configs/sft_paper.yaml output_dir=runs/sft
"""

from __future__ import annotations

from pathlib import Path

from gorilla_rlaif.train.config import SFTRunConfig

CONFIG = SFTRunConfig


def train(config: SFTRunConfig, *, dry_run: bool = False) -> Path | None:
    from trl import SFTConfig, SFTTrainer

    from gorilla_rlaif.train.data import load_apibench_prompts
    from gorilla_rlaif.train.run import TrainRun, describe_model, resolve_model, summarize_log, training_args

    model_path = resolve_model(config.model, config.tiny, role="policy")
    data = load_apibench_prompts(config.data, with_targets=True)
    args = training_args(
        SFTConfig, config, max_length=config.max_length, completion_only_loss=config.completion_only_loss
    )
    if dry_run:
        return None

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gorilla_rlaif.train.quality import policy_report

    run = TrainRun.start("sft", config)
    run.inputs = {"model": describe_model(model_path, config.model_revision), "data": data.provenance}
    tokenizer = AutoTokenizer.from_pretrained(model_path, revision=config.model_revision)
    model = AutoModelForCausalLM.from_pretrained(model_path, revision=config.model_revision)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=data.train, eval_dataset=data.test, processing_class=tokenizer
    )
    trainer.train(resume_from_checkpoint=run.resume_from)

    metrics = {
        "train": summarize_log(trainer.state.log_history, ("loss", "mean_token_accuracy", "train_loss"))
    }
    if data.test is not None:
        metrics["test_loss"] = trainer.evaluate()["eval_loss"]
    if data.records["test"] and trainer.is_world_process_zero():
        metrics["test_generation"] = policy_report(
            trainer.model, tokenizer, data.records["test"], max_new_tokens=config.eval_max_new_tokens
        )
    return run.finish(trainer, tokenizer, metrics=metrics)

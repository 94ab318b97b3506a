"""GRPO: TRL's GRPOTrainer with AI-feedback, execution-grounded, or combined rewards.

`rewards:` lists reward functions (gorilla_rlaif.train.rewards): `reward_model` (the trained RM's
score), `execution` (sandbox verdict + AST match of the API call), `format` (sections present).
TRL sums them with their `weight`s and logs each one. Mixing AI feedback with execution feedback
is something the paper did not do.

    gorilla-rlaif train grpo --preset tiny model=runs/sft 'rewards=[{kind: reward_model, path: runs/rm}]'
"""

from __future__ import annotations

from pathlib import Path

from gorilla_rlaif.train.config import GRPORunConfig

CONFIG = GRPORunConfig


def train(config: GRPORunConfig, *, dry_run: bool = False) -> Path | None:
    from trl import GRPOConfig, GRPOTrainer

    from gorilla_rlaif.train.data import load_apibench_prompts
    from gorilla_rlaif.train.run import TrainRun, describe_model, resolve_model, summarize_log, training_args

    model_path = resolve_model(config.model, config.tiny, role="policy")
    reward_paths = {
        i: resolve_model(s.path, role="reward model")
        for i, s in enumerate(config.rewards)
        if s.kind == "reward_model"
    }
    data = load_apibench_prompts(config.data, with_targets=False)
    args = training_args(
        GRPOConfig,
        config,
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length,
        temperature=config.temperature,
        beta=config.beta,
        reward_weights=[float(s.weight) for s in config.rewards],
    )
    if dry_run:
        return None

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gorilla_rlaif.train.rewards import build_rewards

    run = TrainRun.start("grpo", config)
    run.inputs = {
        "model": describe_model(model_path, config.model_revision),
        "rewards": [
            {
                **spec.model_dump(mode="json"),
                **({"model": describe_model(reward_paths[i])} if i in reward_paths else {}),
            }
            for i, spec in enumerate(config.rewards)
        ],
        "data": data.provenance,
    }
    functions, weights = build_rewards(config.rewards)  # weights: as in args.reward_weights
    tokenizer = AutoTokenizer.from_pretrained(model_path, revision=config.model_revision, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_path, revision=config.model_revision)
    trainer = GRPOTrainer(
        model=model, reward_funcs=functions, args=args, train_dataset=data.train, processing_class=tokenizer
    )
    for function in functions:  # reward models run next to the policy (each process's device)
        if hasattr(function, "to"):
            function.to(trainer.accelerator.device)
    trainer.train(resume_from_checkpoint=run.resume_from)

    names = [f.__name__ for f in functions]
    keys = ("reward", "reward_std", "kl", "completions/mean_length", "loss", "train_loss")
    keys += tuple(f"rewards/{n}/mean" for n in names)
    metrics = {"reward_functions": dict(zip(names, weights, strict=True))}
    metrics["train"] = summarize_log(trainer.state.log_history, keys)
    if data.records["test"] and trainer.is_world_process_zero():
        from gorilla_rlaif.train.quality import policy_report

        metrics["test_generation"] = policy_report(
            trainer.model, tokenizer, data.records["test"], max_new_tokens=config.max_completion_length
        )
    return run.finish(trainer, tokenizer, metrics=metrics)

"""The run around TRL's online trainers that take reward callables: GRPO and RLOO.

Both sample `num_generations` completions per APIBench RL prompt, score them with our reward
functions (`gorilla_rlaif.train.rewards`: the reward model, the sandboxed execution verdict, the
format), and update the policy; they differ in the advantage (GRPO: group-normalised; RLOO: the
leave-one-out baseline) and in their defaults, which TRL's config classes and ours carry. So the
trainer scripts `trainers/grpo.py` and `trainers/rloo.py` are one call each into `train_online`.

TRL versions: GRPOTrainer and RLOOTrainer (with `reward_funcs`) are in TRL's stable API; this
module uses only `XConfig(**fields)`, `XTrainer(model, reward_funcs, args, train_dataset,
processing_class)` and the logged keys below (measured with trl 1.12 here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gorilla_rlaif.train.config import OnlineRLConfig

# keys of TRL's log rows summarised into the run record (first / last / mean)
LOG_KEYS = ("reward", "reward_std", "kl", "completions/mean_length", "entropy", "loss", "train_loss")


def train_online(
    method: str, config: OnlineRLConfig, config_class: type, trainer_class: type, *, dry_run: bool = False
) -> Path | None:
    """Train `method` ('grpo' | 'rloo') with TRL's `trainer_class` / `config_class`."""
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
        config_class,
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

    run = TrainRun.start(method, config)
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
    trainer = trainer_class(
        model=model, reward_funcs=functions, args=args, train_dataset=data.train, processing_class=tokenizer
    )
    for function in functions:  # reward models run next to the policy (each process's device)
        if hasattr(function, "to"):
            function.to(trainer.accelerator.device)
    trainer.train(resume_from_checkpoint=run.resume_from)

    names = [f.__name__ for f in functions]
    keys = LOG_KEYS + tuple(f"rewards/{n}/mean" for n in names)
    metrics: dict[str, Any] = {"reward_functions": dict(zip(names, weights, strict=True))}
    metrics["train"] = summarize_log(trainer.state.log_history, keys)
    if data.records["test"] and trainer.is_world_process_zero():
        from gorilla_rlaif.train.quality import policy_report

        metrics["test_generation"] = policy_report(
            trainer.model, tokenizer, data.records["test"], max_new_tokens=config.max_completion_length
        )
    return run.finish(trainer, tokenizer, metrics=metrics)

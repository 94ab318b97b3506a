"""Train with TRL: sft, reward, ppo, dpo, grpo, rloo (thin adapters in `trainers/`).

The config is a preset (`--preset tiny|paper`, default tiny when no --config is given), then a
YAML file (`--config`), then `key=value` overrides (nested keys with dots; values are YAML).
Everything is validated, including the dataset's splits and columns, before any model is
loaded. The resolved config is echoed to OUTPUT_DIR/train_config.yaml; the model, tokenizer and
gorilla_rlaif_train.json (config, versions, inputs with hashes, metrics) land in OUTPUT_DIR.

examples:
  gorilla-rlaif train sft --output-dir runs/sft
  gorilla-rlaif train reward dataset.path=runs/prefs model=runs/sft --output-dir runs/rm
  gorilla-rlaif train reward mode=classifier dataset.path=runs/prefs model=runs/sft --output-dir runs/acc
  gorilla-rlaif train ppo model=runs/sft reward_model=runs/rm --output-dir runs/ppo
  gorilla-rlaif train dpo model=runs/sft dataset.path=user/prefs dataset.revision=v0.1.0 --output-dir runs/dpo
  gorilla-rlaif train grpo model=runs/sft 'rewards=[{kind: reward_model, path: runs/rm}]' --output-dir runs/grpo
  gorilla-rlaif train rloo model=runs/sft 'rewards=[{kind: reward_model, path: runs/rm}]' --output-dir runs/rloo
  gorilla-rlaif train sft --preset paper --dry-run           # print the resolved config, train nothing
  accelerate launch -m trainers.sft --preset paper --output-dir runs/sft   # multi-GPU (see README)
"""

from __future__ import annotations

import argparse

HELP = "train a model with TRL: sft, reward, ppo, dpo, grpo, rloo"

_TRAINER_HELP = {
    "sft": "supervised fine-tuning on APIBench (completion-only loss)",
    "reward": "reward model: pairwise on `preferences`, or acceptability classifier on `binary`",
    "ppo": "PPO from the SFT model against the reward model (the paper's RL step)",
    "dpo": "DPO on `preferences` from the SFT model",
    "grpo": "GRPO with reward-model, execution or combined rewards",
    "rloo": "RLOO (leave-one-out REINFORCE) with the same rewards; TRL's stable online trainer",
}


def config_keys(model: type, prefix: str = "", depth: int = 0, values: object = None) -> list[str]:
    """One line per config key (nested models indented), for `--help`: generated, never stale."""
    from pydantic import BaseModel

    lines = []
    for key, field in model.model_fields.items():
        if values is not None:
            value = getattr(values, key)
        elif field.is_required():
            value = "required"
        else:
            value = field.get_default(call_default_factory=True)
        nested = isinstance(value, BaseModel)
        text = f"{'  ' * depth}{prefix}{key} = {'...' if nested else value if value == 'required' else repr(value)}"
        if field.description:
            text += f"  # {field.description}"
        lines.append(text)
        if nested and depth < 2:
            lines += config_keys(type(value), f"{prefix}{key}.", depth + 1, value)
    return lines


def configure(parser: argparse.ArgumentParser) -> None:
    import trainers

    sub = parser.add_subparsers(title="trainers", metavar="TRAINER", dest="trainer", required=True)
    for name, help_text in _TRAINER_HELP.items():
        model = trainers.load_trainer(name).CONFIG
        p = sub.add_parser(
            name,
            help=help_text,
            description=f"{help_text}. Presets: trainers/configs/{name}_{{tiny,paper}}.yaml.",
            epilog="config keys (class defaults; presets override them):\n  "
            + "\n  ".join(config_keys(model)),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--config", "-c", help="YAML config file (keys of the trainer's config)")
        p.add_argument(
            "--preset",
            choices=("tiny", "paper"),
            help="packaged preset used as the base (default: tiny when --config is not given)",
        )
        p.add_argument("--output-dir", "-o", help="same as output_dir=DIR")
        p.add_argument(
            "--dry-run", action="store_true", help="validate config and data, print the config, stop"
        )
        p.add_argument(
            "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. max_steps=10"
        )


def run(args: argparse.Namespace) -> int:
    import yaml

    import trainers

    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    preset = args.preset or (None if args.config else "tiny")
    config = trainers.load_config(args.trainer, args.config, overrides, preset=preset)
    if args.dry_run:
        trainers.train(args.trainer, config, dry_run=True)
        print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
        print(f"# {args.trainer}: config and data are valid (dry run: nothing trained)")
        return 0
    output = trainers.train(args.trainer, config)
    print(output)
    return 0

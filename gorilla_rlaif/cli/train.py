"""Train with TRL: sft, reward, ppo, dpo, grpo (thin adapters in `trainers/`).

The config is a preset (`--preset tiny|paper`, default tiny when no --config is given), then a
YAML file (`--config`), then `key=value` overrides (nested keys with dots; values are YAML).
Everything is validated, including the dataset's splits and columns, before any model is
loaded. The resolved config is echoed to OUTPUT_DIR/train_config.yaml; the model, tokenizer and
its record gorilla_rlaif.meta.json (config, versions, inputs with hashes, metrics) land in OUTPUT_DIR.

examples:
  gorilla-rlaif train sft --output-dir runs/sft
  gorilla-rlaif train reward dataset.path=runs/prefs model=runs/sft --output-dir runs/rm
  gorilla-rlaif train reward mode=classifier dataset.path=runs/prefs model=runs/sft --output-dir runs/acc
  gorilla-rlaif train ppo model=runs/sft reward_model=runs/rm --output-dir runs/ppo
  gorilla-rlaif train dpo model=runs/sft dataset.path=user/prefs dataset.revision=v0.1.0 --output-dir runs/dpo
  gorilla-rlaif train grpo model=runs/sft 'rewards=[{kind: reward_model, path: runs/rm}]' --output-dir runs/grpo
  gorilla-rlaif train sft --preset paper --dry-run           # print the resolved config, train nothing
  accelerate launch -m gorilla_rlaif.cli rlaif train sft --preset paper -o runs/sft   # multi-GPU (see README)
"""

from __future__ import annotations

import argparse
from typing import Any

from gorilla_rlaif.cli.command import Command, flag

HELP = "train a model with TRL: sft, reward, ppo, dpo, grpo"

_TRAINER_HELP = {
    "sft": "supervised fine-tuning on APIBench (completion-only loss)",
    "reward": "reward model: pairwise on `preferences`, or acceptability classifier on `binary`",
    "ppo": "PPO from the SFT model against the reward model (the paper's RL step)",
    "dpo": "DPO on `preferences` from the SFT model",
    "grpo": "GRPO with reward-model, execution or combined rewards",
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


def _trainer_command(name: str, help_text: str) -> Command:
    from gorilla_rlaif.train.config import CONFIGS

    model = CONFIGS[name]

    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--preset",
            choices=("tiny", "paper"),
            help="packaged preset used as the base (default: tiny when --config is not given)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="validate config and data, print the config, stop"
        )

    def preset(args: argparse.Namespace) -> dict:
        from gorilla_rlaif.config import read_yaml
        from gorilla_rlaif.trainers import preset_path

        name_ = args.preset or (None if args.config else "tiny")
        return read_yaml(preset_path(name, name_)) if name_ else {}

    def run(config: Any, args: argparse.Namespace) -> int:
        import yaml

        from gorilla_rlaif import trainers

        if args.dry_run:
            trainers.train(name, config, dry_run=True)
            print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), end="")
            print(f"# {name}: config and data are valid (dry run: nothing trained)")
            return 0
        print(trainers.train(name, config))
        return 0

    return Command(
        help_text,
        model,
        run,
        flags=[flag("output_dir", "--output-dir", "-o")],
        outputs={"output_dir": "dir"},
        description=f"{help_text}. Presets: trainers/configs/{name}_{{tiny,paper}}.yaml.",
        epilog="config keys (class defaults; presets override them):\n  " + "\n  ".join(config_keys(model)),
        extra=extra,
        preset=preset,
    )


COMMAND = Command(
    HELP,
    title="trainers",
    subcommands={name: _trainer_command(name, text) for name, text in _TRAINER_HELP.items()},
)

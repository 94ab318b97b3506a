"""Thin TRL trainers: one module per method, one YAML preset per method and size.

    sft.py     SFTTrainer on APIBench prompt -> completion (completion-only loss)
    reward.py  RewardTrainer on `preferences`, or the paper's acceptability classifier on `binary`
    ppo.py     PPOTrainer (trl.experimental.ppo), the paper's RL step
    dpo.py     DPOTrainer on `preferences`
    grpo.py    GRPOTrainer with reward-model, execution or combined rewards

Installed as `gorilla_rlaif.trainers` (the folder stays at the top of the repository). Each
module has `CONFIG` (its pydantic config class) and `train(config, dry_run=False)`; the command
line is `gorilla-rlaif train NAME` (also under `accelerate launch -m gorilla_rlaif.cli rlaif train
NAME ...`): nothing here imports the CLI. Presets live in `configs/<trainer>_<preset>.yaml`
(`tiny`: CPU, minutes; `paper`: gpt2-large on a GPU), each setting marked as the paper's or ours.
The shared glue is `gorilla_rlaif.train`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

TRAINERS: dict[str, str] = {
    "sft": "gorilla_rlaif.trainers.sft",
    "reward": "gorilla_rlaif.trainers.reward",
    "ppo": "gorilla_rlaif.trainers.ppo",
    "dpo": "gorilla_rlaif.trainers.dpo",
    "grpo": "gorilla_rlaif.trainers.grpo",
}
PRESETS = ("tiny", "paper")
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def load_trainer(name: str) -> ModuleType:
    from gorilla_rlaif.errors import ConfigError

    if name not in TRAINERS:
        raise ConfigError(f"unknown trainer {name!r}; choose one of {', '.join(TRAINERS)}")
    return importlib.import_module(TRAINERS[name])


def preset_path(trainer: str, preset: str) -> Path:
    """The packaged preset file, e.g. `configs/sft_tiny.yaml`."""
    from gorilla_rlaif.errors import ConfigError

    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return CONFIG_DIR / f"{trainer}_{preset}.yaml"


def load_config(
    trainer: str,
    config_path: str | Path | None = None,
    overrides: list[str] | None = None,
    preset: str | None = None,
) -> Any:
    """Resolved, validated config: class defaults < preset < `config_path` < `key=value` overrides."""
    from gorilla_rlaif.config import load_config as _load
    from gorilla_rlaif.config import read_yaml

    module = load_trainer(trainer)
    base = read_yaml(preset_path(trainer, preset)) if preset else None
    return _load(module.CONFIG, config_path, overrides or [], base=base)


def train(trainer: str, config: Any, *, dry_run: bool = False) -> Path | None:
    """Run one trainer on a resolved config; returns the output dir (None for a dry run)."""
    return load_trainer(trainer).train(config, dry_run=dry_run)

"""GRPO: TRL's GRPOTrainer with AI-feedback, execution-grounded, or combined rewards.

`rewards:` lists reward functions (gorilla_rlaif.train.rewards): `reward_model` (the trained RM's
score), `execution` (sandbox verdict + AST match of the API call), `format` (sections present).
TRL sums them with their `weight`s and logs each one. Mixing AI feedback with execution feedback
is something the paper did not do. The run around TRL is `gorilla_rlaif.train.online` (shared
with RLOO).

    gorilla-rlaif train grpo --preset tiny model=runs/sft 'rewards=[{kind: reward_model, path: runs/rm}]'
"""

from __future__ import annotations

from pathlib import Path

from gorilla_rlaif.train.config import GRPORunConfig

CONFIG = GRPORunConfig


def train(config: GRPORunConfig, *, dry_run: bool = False) -> Path | None:
    from trl import GRPOConfig, GRPOTrainer

    from gorilla_rlaif.train.online import train_online

    return train_online("grpo", config, GRPOConfig, GRPOTrainer, dry_run=dry_run)

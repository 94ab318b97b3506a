"""RLOO: TRL's RLOOTrainer (REINFORCE leave-one-out), the RL step that survives TRL upgrades.

PPO lives only in trl 1.12 (`trl.experimental.ppo`, deleted in 1.13); RLOO is in TRL's stable API
and takes reward callables. Policy = `model` (the SFT checkpoint), KL to a frozen copy (`beta`),
rewards from `rewards:` as for GRPO: the reward model's score, optionally plus the sandboxed
execution reward (`{kind: execution}`). Each completion's advantage is its reward minus the mean
reward of the other `num_generations - 1` completions of its prompt: no value model. The run
around TRL is `gorilla_rlaif.train.online` (shared with GRPO).

    gorilla-rlaif train rloo --preset tiny model=runs/sft 'rewards=[{kind: reward_model, path: runs/rm}]'
"""

from __future__ import annotations

from pathlib import Path

from gorilla_rlaif.train.config import RLOORunConfig

CONFIG = RLOORunConfig


def train(config: RLOORunConfig, *, dry_run: bool = False) -> Path | None:
    from trl import RLOOConfig, RLOOTrainer

    from gorilla_rlaif.train.online import train_online

    return train_online("rloo", config, RLOOConfig, RLOOTrainer, dry_run=dry_run)

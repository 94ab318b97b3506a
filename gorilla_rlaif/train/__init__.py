"""Glue shared by the thin TRL trainers in `trainers/`: configs, data, run bookkeeping, rewards.

The trainers themselves (`trainers/sft.py`, `reward.py`, `ppo.py`, `dpo.py`, `grpo.py`, `rloo.py`) are a
screenful each; the work is TRL's. What they share lives here, once:
`config` (one pydantic model per trainer), `data` (preference datasets and APIBench prompts,
checked before training), `run` (output dir, CPU/GPU flags, resume, checkpoint + provenance),
`rewards` (reward functions for GRPO and RLOO), `online` (the loop GRPO and RLOO share), `quality` (a quick held-out generation report),
`compat` (TRL version shims).
"""

from gorilla_rlaif.train.config import (
    CONFIGS,
    DPORunConfig,
    GRPORunConfig,
    PPORunConfig,
    RewardRunConfig,
    RLOORunConfig,
    SFTRunConfig,
    TrainConfig,
)
from gorilla_rlaif.train.run import CONFIG_FILE, PROVENANCE_FILE, TrainRun

__all__ = [
    "CONFIGS",
    "CONFIG_FILE",
    "PROVENANCE_FILE",
    "DPORunConfig",
    "GRPORunConfig",
    "PPORunConfig",
    "RLOORunConfig",
    "RewardRunConfig",
    "SFTRunConfig",
    "TrainConfig",
    "TrainRun",
]

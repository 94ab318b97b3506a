"""Version shims for TRL, in one place (so trainer scripts stay version-free).

- PPO lives at `trl.experimental.ppo` in the pinned trl 1.12 line and was deleted in trl 1.13:
  `ppo_classes()` imports it, or says exactly which version is needed.
- trl 1.12's PPOTrainer logs mean RM score (`objective/scores`) and KL but not the response
  length. `ppo_trainer_class()` returns a subclass that records, for every rollout batch, the
  length of the scored responses and the raw reward-model score (before the missing-EOS penalty),
  by wrapping the module-level `get_reward` the trainer calls, and adds both to each log row as
  `objective/response_length` and `objective/rm_score`. The wrapper only observes: it returns
  exactly what `get_reward` returns.
"""

from __future__ import annotations

import os
from typing import Any

PPO_TRL_LINE = "1.12"


def ppo_classes() -> tuple[type, type]:
    """`(PPOConfig, PPOTrainer)` from trl.experimental.ppo, or an error saying which trl is needed."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    try:
        from trl.experimental.ppo import PPOConfig, PPOTrainer
    except ImportError as exc:
        from importlib.metadata import version

        from gorilla_rlaif.errors import ConfigError

        raise ConfigError(
            f"PPO needs trl {PPO_TRL_LINE}.x (trl.experimental.ppo; deleted in trl 1.13), installed: "
            f"trl {version('trl')} ({exc}). Install with: pip install 'trl>={PPO_TRL_LINE},<1.13'"
        ) from None
    return PPOConfig, PPOTrainer


def ppo_trainer_class() -> type:
    """PPOTrainer that also logs mean response length and raw RM score per rollout batch."""
    import contextlib

    from trl.experimental.ppo import ppo_trainer as module

    _, base = ppo_classes()

    class PPOTrainerWithLengths(base):  # type: ignore[misc, valid-type]
        def train(self) -> Any:
            original = module.get_reward
            lengths: list[float] = []
            scores: list[float] = []
            self._rollout_stats = (lengths, scores)

            def observed_get_reward(model, query_responses, pad_token_id, context_length):
                result = original(model, query_responses, pad_token_id, context_length)
                if model is self.reward_model:
                    responses = query_responses[:, context_length:]
                    lengths.extend((responses != pad_token_id).sum(1).float().tolist())
                    scores.extend(result[1].float().tolist())
                return result

            module.get_reward = observed_get_reward
            with contextlib.ExitStack() as stack:
                stack.callback(setattr, module, "get_reward", original)
                return super().train()

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            stats = getattr(self, "_rollout_stats", None)
            if stats and stats[0] and "objective/scores" in logs:
                lengths, scores = stats
                logs["objective/response_length"] = sum(lengths) / len(lengths)
                logs["objective/rm_score"] = sum(scores) / len(scores)
                lengths.clear()
                scores.clear()
            super().log(logs, start_time)

    return PPOTrainerWithLengths

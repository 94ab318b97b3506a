"""The interface every GRPO reward implements (TRL's): one float per completion.

On its own so that the rewards (`rewards.py`, `execution.py`) import it without importing each
other: the registry in `rewards.py` picks the execution reward only when it is configured.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class RewardFunction(ABC):
    """One reward: a float per completion (None when it does not apply; TRL then ignores it)."""

    __name__ = "reward"

    @abstractmethod
    def __call__(self, prompts: list[str], completions: list[str], **columns: Any) -> list[float | None]: ...

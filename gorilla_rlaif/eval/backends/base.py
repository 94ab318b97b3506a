"""The interface every eval backend implements: a batch of prompts in, one completion each out.

Batch-first (lists in, lists out, as in lm-evaluation-harness): the evaluator hands a backend all
the prompts of a batch at once, so a transformers backend pads them into one `generate` call, vLLM
schedules them together, and an API backend keeps `concurrency` requests in flight.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gorilla_rlaif.eval.config import EvalConfig
    from gorilla_rlaif.eval.prompts import EvalPrompt


@dataclass
class Completion:
    """A model's answer to one prompt. `error` is set (and `text` empty) when no answer came back
    (an API request that failed after its retries): such a prompt is retried by the next run,
    never scored as the model's mistake."""

    text: str
    tokens: int | None = None  # generated tokens, when the backend knows them
    error: str | None = None
    meta: dict[str, Any] | None = None  # e.g. usage and cost of an API answer


class EvalBackend(ABC):
    """Load once in `__init__`; `complete` many batches; `close` at the end."""

    #: the prompt the backend sends (fine-tuned Gorilla-format prompt or a chat conversation)
    prompt_format: str = "gorilla"

    def __init__(self, config: EvalConfig):
        self.config = config

    @classmethod  # noqa: B027 - an optional hook
    def check(cls, config: EvalConfig) -> None:
        """Refuse what would fail when loading (a missing model, a device that is not there),
        cheaply and before the run directory is written."""

    @abstractmethod
    def complete(self, prompts: Sequence[EvalPrompt], seed: int) -> list[Completion]:
        """One completion per prompt, in order. `seed` makes sampling reproducible per batch."""

    @property
    def batch_size(self) -> int:
        """Prompts per `complete` call (and per resume step: rows are saved after each call)."""
        return self.config.generation.batch_size

    def describe(self) -> dict[str, Any]:
        """What identifies the model and the decoding (recorded in results.json)."""
        return {"backend": self.config.backend, "model": self.config.model}

    def shown_prompt(self, prompt: EvalPrompt) -> str | list[dict[str, str]]:
        """The prompt as sent, saved with each sample."""
        return prompt.text

    def stats(self) -> dict[str, Any]:
        """Counters worth reporting (API usage and cost, truncated prompts)."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the backend holds (API clients, GPU memory)."""

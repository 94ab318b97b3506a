"""The generator interface: prompts in, `n` completions for each out. Batch-first, backend-agnostic.

Backends are listed in `GENERATORS` and imported only when chosen (`hf` here; API and vLLM
backends plug in the same way). Used to sample judge candidates (n > 1, temperature > 0) and for
greedy evaluation (n = 1, temperature = 0).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GENERATORS: dict[str, str] = {
    "hf": "gorilla_rlaif.generate.hf:HFGenerator",
}


class GenerationConfig(BaseModel):
    """How to sample. Parameters that control the model, the sampling, and batching:"""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(description="local path or model id of a causal LM")
    backend: Literal["hf"] = "hf"
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    num_candidates: int = Field(4, ge=1, description="completions sampled per prompt")
    temperature: float = Field(0.8, ge=0, description="0 = greedy (then num_candidates must be 1)")
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int | None = Field(None, ge=1)
    max_new_tokens: int = Field(256, ge=1)
    stop: tuple[str, ...] = Field(("\n###",), description="cut a completion where one of these starts")
    seed: int = 0
    batch_size: int = Field(
        8, ge=1, description="prompts per forward batch (each with num_candidates sequences)"
    )
    dedup: bool = Field(
        True, description="drop completions identical (after stripping) to an earlier one of the same prompt"
    )

    @model_validator(mode="after")
    def _check(self) -> GenerationConfig:
        if self.temperature == 0 and self.num_candidates > 1:
            raise ValueError(
                "temperature 0 is greedy decoding: every candidate would be the same; "
                "use num_candidates=1, or a temperature > 0 to sample several"
            )
        return self


class Generator(ABC):
    """Load once, then `generate(prompts, n, seed)` -> for each prompt, n completions (text after the prompt)."""

    def __init__(self, config: GenerationConfig):
        self.config = config

    @abstractmethod
    def generate(self, prompts: Sequence[str], n: int, seed: int) -> list[list[str]]: ...

    def describe(self) -> dict[str, Any]:
        """What identifies the model and the decoding (recorded with every output)."""
        return {"backend": self.config.backend, "model": self.config.model}


def make_generator(config: GenerationConfig) -> Generator:
    module_name, _, class_name = GENERATORS[config.backend].partition(":")
    return getattr(importlib.import_module(module_name), class_name)(config)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The completion up to the first stop string (the model starting a new turn)."""
    end = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                end = min(end, i)
    return text[:end]

"""The generator interface: prompts in, `n` completions for each out. Batch-first, backend-agnostic.

Backends are listed in `GENERATORS` and imported only when chosen (`hf` here; API and vLLM
backends plug in the same way). Used to sample judge candidates (n > 1, temperature > 0) and for
greedy evaluation (n = 1, temperature = 0).
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GENERATORS: dict[str, str] = {
    "hf": "gorilla_rlaif.generate.hf:HFGenerator",
}


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


class DecodingConfig(BaseModel):
    """How a model decodes: device and precision, sampling, stop strings, batching.

    Embedded whole wherever text is generated (`GenerationConfig` for candidates, `EvalConfig.
    generation` for the benchmark), so both see a model through the same settings and code."""

    model_config = ConfigDict(extra="forbid")

    device: str = Field("cpu", description="auto (cuda if visible), cpu, cuda, cuda:N, mps")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "float32", description="auto: bfloat16 on a GPU that supports it, else float32"
    )
    temperature: float = Field(0.8, ge=0, description="0 = greedy")
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int | None = Field(None, ge=1)
    max_new_tokens: int = Field(256, ge=1, le=32768)
    stop: tuple[str, ...] = Field(("\n###",), description="cut a completion where one of these starts")
    seed: int = 0
    batch_size: int = Field(8, ge=1, le=4096, description="prompts per forward batch")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not _DEVICE.fullmatch(value):
            raise ValueError(f"unknown device {value!r}: use auto, cpu, cuda, cuda:N or mps")
        return value


class GenerationConfig(DecodingConfig):
    """How to sample candidates: the model, K per prompt, and the decoding settings above."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(description="local path or model id of a causal LM")
    backend: Literal["hf"] = "hf"
    num_candidates: int = Field(
        4, ge=1, le=1024, description="completions sampled per prompt (each batch holds batch_size x K)"
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


def resolve_device(device: str, dtype: str) -> tuple[str, str]:
    """'auto' -> cuda when visible, else cpu; dtype 'auto' -> bfloat16 on a GPU that has it, else
    float32. A device that is not there is refused here, before any model is loaded."""
    import torch

    from gorilla_rlaif.errors import ConfigError

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={device} but no CUDA GPU is visible; use device cpu or auto")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device={device}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device=mps but no Apple GPU is visible; use device cpu or auto")
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
    return device, dtype


class Generator(ABC):
    """Load `model` once, then `generate(prompts, n, seed)` -> for each prompt, n completions (text
    after the prompt), decoded as `config` says."""

    backend: str = ""

    def __init__(self, config: DecodingConfig, model: str):
        self.config = config
        self.model_name = model

    @abstractmethod
    def generate(self, prompts: Sequence[str], n: int, seed: int) -> list[list[str]]: ...

    def describe(self) -> dict[str, Any]:
        """What identifies the model and the decoding (recorded with every output)."""
        return {"backend": self.backend, "model": self.model_name}


def make_generator(config: GenerationConfig) -> Generator:
    module_name, _, class_name = GENERATORS[config.backend].partition(":")
    return getattr(importlib.import_module(module_name), class_name)(config, config.model)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The completion up to the first stop string (the model starting a new turn)."""
    end = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                end = min(end, i)
    return text[:end]

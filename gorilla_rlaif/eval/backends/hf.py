"""The `hf` backend: any causal LM through transformers, batched and greedy by default.

Generation itself is `gorilla_rlaif.generate.hf.HFGenerator` (left-padded batches, stop strings,
prompt truncation from the left, seeded), shared with candidate sampling so that eval and the
RLAIF data see a model through exactly the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from gorilla_rlaif.eval.backends.base import Completion, EvalBackend
from gorilla_rlaif.eval.config import EvalConfig
from gorilla_rlaif.eval.prompts import EvalPrompt

log = logging.getLogger(__name__)


def resolve_device(device: str, dtype: str) -> tuple[str, str]:
    """'auto' -> cuda when visible, else cpu; dtype 'auto' -> bfloat16 on a GPU that has it, else float32."""
    import torch

    from gorilla_rlaif.errors import ConfigError

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} but no CUDA GPU is visible; use --device cpu or auto")
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
    return device, dtype


class HFBackend(EvalBackend):
    def __init__(self, config: EvalConfig):
        super().__init__(config)
        from gorilla_rlaif.generate import GenerationConfig
        from gorilla_rlaif.generate.hf import HFGenerator

        device, dtype = resolve_device(config.device, config.dtype)
        self.generation = GenerationConfig(
            model=config.model,
            device=device,
            dtype=dtype,
            num_candidates=1,
            temperature=config.temperature,
            top_p=config.top_p,
            max_new_tokens=config.max_new_tokens,
            seed=config.seed,
            batch_size=config.batch_size,
            dedup=False,
        )
        self.generator = HFGenerator(self.generation)
        self.tokenizer = self.generator.tokenizer

    def complete(self, prompts: Sequence[EvalPrompt], seed: int) -> list[Completion]:
        texts = self.generator.generate([p.text for p in prompts], 1, seed)
        out = []
        for (text,) in texts:
            out.append(Completion(text=text, tokens=len(self.tokenizer(text)["input_ids"])))
        return out

    def describe(self) -> dict[str, Any]:
        return {**self.generator.describe(), "device": self.generation.device, "dtype": self.generation.dtype}

    def stats(self) -> dict[str, Any]:
        return {"truncated_prompts": self.generator.truncated}

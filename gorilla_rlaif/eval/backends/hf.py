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


class HFBackend(EvalBackend):
    @classmethod
    def check(cls, config: EvalConfig) -> None:
        from gorilla_rlaif.generate.base import resolve_device
        from gorilla_rlaif.models import resolve_model

        resolve_model(config.model, "generator")
        resolve_device(config.generation.device, config.generation.dtype)

    def __init__(self, config: EvalConfig):
        super().__init__(config)
        from gorilla_rlaif.generate.hf import HFGenerator

        self.generator = HFGenerator(config.generation, config.model)
        self.generation = self.generator.config  # with device and dtype resolved
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

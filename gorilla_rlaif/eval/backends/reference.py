"""The `reference` backend: answers every prompt with APIBench's own reference answer.

Not a model: the ceiling of the benchmark as this toolkit measures it. Its AST accuracy should be
~100% (a lower number points at the matcher or the data), and its executability is the share of
the *reference* code that runs in the offline sandbox, the most a model can reach there (reference
snippets that need real weights, data files or a GPU fail for reasons no model can fix). Report it
next to the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gorilla_rlaif.data import format_target
from gorilla_rlaif.eval.backends.base import Completion, EvalBackend
from gorilla_rlaif.eval.prompts import EvalPrompt


class ReferenceBackend(EvalBackend):
    def complete(self, prompts: Sequence[EvalPrompt], seed: int) -> list[Completion]:
        out = []
        for prompt in prompts:
            record = prompt.record
            text = format_target(record.output) if record.output is not None else ""
            out.append(Completion(text=text, tokens=None))
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": "reference", "model": self.config.model, "answers": "APIBench reference outputs"}

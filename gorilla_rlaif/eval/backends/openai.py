"""The `openai` backend: any OpenAI-compatible chat model (gpt-3.5-turbo, a vLLM or Ollama server).

A chat model was never trained on Gorilla's `###Instruction/###Output` layout, so it gets a
zero-shot system prompt that asks for Gorilla's five output sections, in Gorilla's markers, and
the user message is the instruction alone. The answer is scored as it comes back: no validator
re-asks a model whose answer lacks a section (that would give API models a second chance fine-tuned
models do not get). Transport is `gorilla_rlaif.llm.LLMClient`, the judge's machinery: bounded
concurrency, tenacity retries with backoff, a persistent SQLite answer cache (a re-run or a resumed
eval pays for nothing twice) and token/cost accounting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from gorilla_rlaif.eval.backends.base import Completion, EvalBackend
from gorilla_rlaif.eval.config import EvalConfig
from gorilla_rlaif.eval.prompts import EvalPrompt

log = logging.getLogger(__name__)

PROMPT_VERSION = "zero-shot-v1"

HUB_NAMES = {
    "huggingface": (
        "Hugging Face Hub models (transformers, diffusers, sentence-transformers)",
        "Hugging Face Transformers",
    ),
    "tensorflowhub": ("TensorFlow Hub models", "TensorFlow Hub"),
    "torchhub": ("PyTorch Hub models (torch.hub.load)", "PyTorch"),
}

SYSTEM_PROMPT = """You are an expert on {hub_text}. The user describes a task. Pick ONE API that solves it and answer with exactly these five sections, each on its own line, in this order, using these markers:
<<<domain>>>: the task domain, e.g. "Computer Vision Image Classification"
<<<api_call>>>: the single API call that loads the model, as one line of Python
<<<api_provider>>>: {provider}
<<<explanation>>>: how the code solves the task, in a few sentences
<<<code>>>: a complete, runnable Python snippet using that API
Write nothing before the first marker."""


def chat_messages(prompt: EvalPrompt) -> list[dict[str, str]]:
    hub_text, provider = HUB_NAMES[prompt.hub]
    user = prompt.instruction
    if prompt.record.input:
        user += f"\nInput: {prompt.record.input}"
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(hub_text=hub_text, provider=provider)},
        {"role": "user", "content": user},
    ]


class OpenAIBackend(EvalBackend):
    prompt_format = PROMPT_VERSION

    def __init__(self, config: EvalConfig):
        super().__init__(config)
        from gorilla_rlaif.llm import ResponseCache

        # A failed request is not an answer: a re-run of the eval must ask it again.
        self.settings = config.llm.model_copy(update={"retry_failed": True})
        self.cache = ResponseCache(config.cache_path)
        self._totals: dict[str, Any] = {}

    @property
    def batch_size(self) -> int:
        # Enough requests per call to keep `concurrency` in flight; answers are cached as they
        # arrive, so a larger step loses nothing when interrupted.
        return max(self.config.generation.batch_size, 4 * self.settings.concurrency)

    def shown_prompt(self, prompt: EvalPrompt) -> list[dict[str, str]]:
        return chat_messages(prompt)

    def complete(self, prompts: Sequence[EvalPrompt], seed: int) -> list[Completion]:
        from gorilla_rlaif.llm import ChatRequest, LLMClient, run_sync

        requests = [
            ChatRequest(
                messages=tuple(chat_messages(p)),
                max_tokens=self.config.generation.max_new_tokens,
                temperature=self.config.generation.temperature,
                seed=seed,
                key_extra={"stage": "eval", "prompt": PROMPT_VERSION, "top_p": self.config.generation.top_p},
            )
            for p in prompts
        ]

        async def ask() -> tuple[list[Any], dict[str, Any]]:
            async with LLMClient(self.settings, self.cache, namespace="eval") as client:
                results = await client.chat_many(requests)
                return results, client.totals.as_dict()

        results, totals = run_sync(ask())
        for key, value in totals.items():
            if isinstance(value, (int, float)):
                self._totals[key] = self._totals.get(key, 0) + value
            elif value is None:
                self._totals[key] = None
        out = []
        for result in results:
            meta = {"usage": result.usage.as_dict(), "cost_usd": result.cost_usd, "cached": result.cached}
            if result.ok:
                out.append(
                    Completion(text=result.content or "", tokens=result.usage.completion_tokens, meta=meta)
                )
            else:
                out.append(Completion(text="", error=result.error or "request failed", meta=meta))
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "model": self.config.model,
            "base_url": self.settings.base_url or "https://api.openai.com/v1",
            "prompt": PROMPT_VERSION,
            "system_prompt": SYSTEM_PROMPT,
            "temperature": self.config.generation.temperature,
            "max_tokens": self.config.generation.max_new_tokens,
        }

    def stats(self) -> dict[str, Any]:
        return dict(self._totals)

    def close(self) -> None:
        self.cache.close()

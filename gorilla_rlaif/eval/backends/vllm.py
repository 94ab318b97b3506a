"""The `vllm` backend (optional extra, `pip install gorilla-rlaif[vllm]`): fast generation on GPUs.

vLLM schedules a whole batch with continuous batching and paged attention; the prompts and the
stop string are the same as the hf backend's, so scores are comparable across the two.
Imported only when chosen: vLLM needs a GPU and is large, and this module is the only one that
names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.eval.backends.base import Completion, EvalBackend
from gorilla_rlaif.eval.config import EvalConfig
from gorilla_rlaif.eval.prompts import EvalPrompt


class VLLMBackend(EvalBackend):
    def __init__(self, config: EvalConfig):
        super().__init__(config)
        try:
            import vllm
        except ImportError:
            raise ConfigError(
                "the vllm backend needs vLLM: pip install 'gorilla-rlaif[vllm]' (GPU machines), "
                "or use --backend hf"
            ) from None
        self._vllm = vllm
        self.llm = vllm.LLM(model=config.model, dtype=config.generation.dtype, seed=config.seed)

    def complete(self, prompts: Sequence[EvalPrompt], seed: int) -> list[Completion]:
        g = self.config.generation
        params = self._vllm.SamplingParams(
            temperature=g.temperature,
            top_p=g.top_p,
            max_tokens=g.max_new_tokens,
            stop=list(g.stop),
            seed=seed,
        )
        outputs = self.llm.generate([p.text for p in prompts], params, use_tqdm=False)
        return [Completion(text=o.outputs[0].text, tokens=len(o.outputs[0].token_ids)) for o in outputs]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "vllm",
            "model": self.config.model,
            "vllm": getattr(self._vllm, "__version__", None),
            "stop": list(self.config.generation.stop),
            "temperature": self.config.generation.temperature,
            "max_tokens": self.config.generation.max_new_tokens,
        }

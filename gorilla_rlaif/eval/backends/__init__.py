"""Model backends of `gorilla-bench eval`, behind one small batch-first interface.

`BACKENDS` is the explicit list: a name -> "module:Class". A backend module is imported only when
chosen, so `vllm` (an optional extra) or `openai` cost nothing to users who do not pick them.
"""

from __future__ import annotations

import importlib

from gorilla_rlaif.eval.backends.base import Completion, EvalBackend
from gorilla_rlaif.eval.config import EvalConfig

BACKENDS: dict[str, str] = {
    "hf": "gorilla_rlaif.eval.backends.hf:HFBackend",
    "openai": "gorilla_rlaif.eval.backends.openai:OpenAIBackend",
    "vllm": "gorilla_rlaif.eval.backends.vllm:VLLMBackend",
    # APIBench's own answers: the ceiling of every metric in this sandbox (see the module)
    "reference": "gorilla_rlaif.eval.backends.reference:ReferenceBackend",
}

__all__ = ["BACKENDS", "Completion", "EvalBackend", "make_backend"]


def backend_class(config: EvalConfig) -> type[EvalBackend]:
    module_name, _, class_name = BACKENDS[config.backend].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_backend(config: EvalConfig) -> EvalBackend:
    """Import and build the backend `config.backend` names (loads the model / opens the client)."""
    return backend_class(config)(config)

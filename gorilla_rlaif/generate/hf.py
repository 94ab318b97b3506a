"""The `hf` generator: transformers `generate`, batched with left padding.

Left padding puts every prompt's last token at the same position, so one `generate` call serves
a batch of prompts; the attention mask keeps pads out and `generate` derives position ids from
it. Each call seeds torch's RNG with the caller's seed, so a batch gives the same completions
whenever it is run with the same seed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.generate.base import DecodingConfig, Generator, cut_at_stop, resolve_device

log = logging.getLogger(__name__)


class HFGenerator(Generator):
    backend = "hf"

    def __init__(self, config: DecodingConfig, model: str):
        device, dtype = resolve_device(config.device, config.dtype)
        super().__init__(config.model_copy(update={"device": device, "dtype": dtype}), model)
        import torch

        from gorilla_rlaif.models import load_causal_lm

        self.torch = torch
        self.model, self.tokenizer = load_causal_lm(model, dtype=getattr(torch, dtype), role="generator")
        self.model.to(device).eval()
        self.tokenizer.padding_side = "left"
        self.tokenizer.truncation_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        limit = getattr(self.model.config, "max_position_embeddings", None) or getattr(
            self.model.config, "n_positions", None
        )
        self.max_prompt_tokens = int(limit) - config.max_new_tokens if limit else None
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 16:
            raise ConfigError(
                f"max_new_tokens={config.max_new_tokens} leaves no room for a prompt in a {limit}-token model"
            )
        self.truncated = 0

    def generation_kwargs(self) -> dict[str, Any]:
        c = self.config
        kwargs: dict[str, Any] = {
            "max_new_tokens": c.max_new_tokens,
            "do_sample": c.temperature > 0,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self.tokenizer.eos_token_id,
        }
        if c.temperature > 0:
            kwargs.update(temperature=c.temperature, top_p=c.top_p)
            if c.top_k is not None:
                kwargs["top_k"] = c.top_k
            else:
                kwargs["top_k"] = 0  # transformers defaults to top_k=50; 0 means pure nucleus sampling
        return kwargs

    def describe(self) -> dict[str, Any]:
        path = Path(self.model_name)
        out = {"backend": "hf", "model": self.model_name, "generate_kwargs": self.generation_kwargs()}
        if (path / "config.json").exists():
            from gorilla_rlaif.io import sha256_file

            out["model_config_sha256"] = sha256_file(path / "config.json")
            weights = sorted(path.glob("*.safetensors"))
            if weights:
                out["weights_sha256"] = {w.name: sha256_file(w) for w in weights}
        return out

    def generate(self, prompts: Sequence[str], n: int, seed: int) -> list[list[str]]:
        torch = self.torch
        kwargs: dict[str, Any] = {}
        if self.max_prompt_tokens is not None:
            kwargs = {"truncation": True, "max_length": self.max_prompt_tokens}
        lengths = [len(ids) for ids in self.tokenizer(list(prompts))["input_ids"]]
        cut = sum(1 for n_tokens in lengths if self.max_prompt_tokens and n_tokens > self.max_prompt_tokens)
        if cut:
            self.truncated += cut
            log.warning("%d prompt(s) longer than %d tokens: kept their end", cut, self.max_prompt_tokens)
        enc = self.tokenizer(list(prompts), return_tensors="pt", padding=True, **kwargs).to(self.model.device)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(**enc, num_return_sequences=n, **self.generation_kwargs())
        new_tokens = out[:, enc["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        texts = [cut_at_stop(t, self.config.stop) for t in texts]
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]

"""Reward functions for GRPO (and scoring helpers shared with the reward-model trainer).

Interface: TRL's. A reward function is a callable `f(prompts, completions, **columns) -> list[float
| None]` with a `__name__`; TRL calls it with the decoded prompts and completions of a generation
batch and every other dataset column as a keyword list (`id`, `hub`, `question_id`, ...), plus a
few of its own (`completion_ids`, `trainer_state`, ...). Several functions are combined by TRL
as a weighted sum (`GRPOConfig.reward_weights`), and each is logged under its own name, so "AI
feedback + execution" is two entries in the config's `rewards:` list.

Backends are built from their config spec through the explicit `REWARDS` table; each imports its
heavy dependencies (transformers, the sandbox) only when chosen.
"""

from __future__ import annotations

import logging
from typing import Any

from gorilla_rlaif.train.config import ExecutionSpec, FormatSpec, RewardModelSpec
from gorilla_rlaif.train.reward_base import RewardFunction

log = logging.getLogger(__name__)


class SequenceScorer:
    """Scores texts with a sequence-classification model (one logit), batched.

    Shared by the RM reward and the reward trainer's held-out accuracy, so both score exactly as
    TRL's RewardTrainer trained: text = prompt + completion + EOS, the logit at the last token.
    Over-long texts keep their end (where the score is read), not their start.
    """

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 16, max_length: int = 512):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        if tokenizer.pad_token_id is None:
            raise ValueError("the reward model's tokenizer has no pad token")

    def pair_text(self, prompt: str, completion: str) -> str:
        eos = self.tokenizer.eos_token or ""
        text = prompt + completion
        return text if text.endswith(eos) else text + eos

    def score(self, texts: list[str]) -> list[float]:
        import torch

        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id
        was_training = self.model.training
        self.model.eval()
        out: list[float] = []
        try:
            for start in range(0, len(texts), self.batch_size):
                ids = self.tokenizer(texts[start : start + self.batch_size], add_special_tokens=False)[
                    "input_ids"
                ]
                ids = [x[-self.max_length :] for x in ids]
                width = max(len(x) for x in ids)
                input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
                mask = torch.zeros((len(ids), width), dtype=torch.long)
                for i, x in enumerate(ids):
                    input_ids[i, : len(x)] = torch.tensor(x)
                    mask[i, : len(x)] = 1
                with torch.inference_mode():
                    logits = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
                out.extend(logits[:, 0].float().cpu().tolist())
        finally:
            self.model.train(was_training)
        return out

    def score_pairs(self, prompts: list[str], completions: list[str]) -> list[float]:
        return self.score([self.pair_text(p, c) for p, c in zip(prompts, completions, strict=True)])


class RewardModelReward(RewardFunction):
    """AI-feedback reward: the trained reward model's score (pairwise RM or acceptability logit)."""

    __name__ = "reward_model"

    def __init__(self, spec: RewardModelSpec):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from gorilla_rlaif.train.run import resolve_model

        self.spec = spec
        path = resolve_model(spec.path, role="reward model")
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        self.scorer = SequenceScorer(model, tokenizer, batch_size=spec.batch_size, max_length=spec.max_length)

    def to(self, device: Any) -> RewardModelReward:
        self.scorer.model.to(device)
        return self

    def __call__(self, prompts: list[str], completions: list[str], **columns: Any) -> list[float | None]:
        return list(self.scorer.score_pairs(prompts, completions))


class FormatReward(RewardFunction):
    """Share of the five Gorilla sections (domain, api_call, api_provider, explanation, code) present."""

    __name__ = "format"

    def __init__(self, spec: FormatSpec | None = None):
        self.spec = spec or FormatSpec()

    def __call__(self, prompts: list[str], completions: list[str], **columns: Any) -> list[float | None]:
        from gorilla_rlaif.data import SECTIONS, parse_completion

        out: list[float | None] = []
        for completion in completions:
            found = parse_completion(completion)
            out.append(sum(1 for s in SECTIONS if found.get(s)) / len(SECTIONS))
        return out


def _execution_reward(spec: ExecutionSpec) -> RewardFunction:
    from gorilla_rlaif.train.execution import ExecutionReward

    return ExecutionReward(spec)


REWARDS: dict[str, Any] = {
    "reward_model": RewardModelReward,
    "format": FormatReward,
    "execution": _execution_reward,
}


def build_rewards(specs: list[Any]) -> tuple[list[RewardFunction], list[float]]:
    """Instantiate each configured reward; return them and their weights (TRL sums them)."""
    functions = [REWARDS[spec.kind](spec) for spec in specs]
    seen: dict[str, int] = {}
    for function in functions:  # TRL logs each reward under its name: keep names distinct
        name = function.__name__
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            function.__name__ = f"{name}_{seen[name]}"
    return functions, [float(spec.weight) for spec in specs]

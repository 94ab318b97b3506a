"""The `hf:PATH` judge: a local transformers causal LM answers each question by its next token.

For each (item, question) the prompt ends right where the answer goes; one forward pass gives the
next-token distribution and P(yes) = p(yes-tokens) / (p(yes-tokens) + p(no-tokens)), where
yes-tokens are the first tokens of "yes", " yes", "Yes", " Yes" (no-tokens alike). The answer is
"yes" when P(yes) >= 0.5. Prompts are batched with left padding and explicit position ids, so
an item's answer does not depend on what else is in its batch. Too-long prompts keep their end
(the question and the answer slot) and are flagged `truncated`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from gorilla_rlaif.judge.base import Judge, JudgeConfig, JudgeItem, Judgment, OnResult
from gorilla_rlaif.judge.rubric import Rubric

log = logging.getLogger(__name__)

YES_FORMS = ("yes", " yes", "Yes", " Yes", "YES", " YES")
NO_FORMS = ("no", " no", "No", " No", "NO", " NO")


class HFJudge(Judge):
    backend = "hf"

    def __init__(self, config: JudgeConfig, rubric: Rubric, **_: Any):
        super().__init__(config, rubric)
        import torch

        from gorilla_rlaif.errors import ConfigError
        from gorilla_rlaif.models import load_causal_lm

        self.model_path = config.judge.partition(":")[2]
        self.model, self.tokenizer = load_causal_lm(self.model_path, role="judge")
        self.model = self.model.to(config.hf.device).eval()
        self.torch = torch
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.yes_ids = self._first_token_ids(YES_FORMS)
        self.no_ids = self._first_token_ids(NO_FORMS) - self.yes_ids
        if not self.yes_ids or not self.no_ids:
            raise ConfigError(f"judge model {self.model_path!r}: its tokenizer cannot spell 'yes' and 'no'")
        limit = getattr(self.model.config, "max_position_embeddings", None) or getattr(
            self.model.config, "n_positions", None
        )
        self.max_length = int(limit or self.tokenizer.model_max_length or 2048)

    def _first_token_ids(self, forms: tuple[str, ...]) -> set[int]:
        ids = set()
        for form in forms:
            tokens = self.tokenizer.encode(form, add_special_tokens=False)
            if tokens:
                ids.add(tokens[0])
        return ids

    def settings(self) -> dict[str, Any]:
        return {
            "backend": "hf",
            "model": self.model_path,
            "mode": "per-question",
            "answer": "argmax of P(yes) vs P(no) over next-token forms",
            **self.rubric.describe(),
        }

    def prompt(self, item: JudgeItem, question_index: int) -> str:
        user = self.rubric.per_question_prompt(
            item.instruction, item.completion, self.rubric.questions[question_index]
        )
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.rubric.system}, {"role": "user", "content": user}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return f"{self.rubric.system}\n\n{user}\nAnswer:"

    def p_yes(self, prompts: list[str]) -> tuple[list[float], list[bool]]:
        """P(yes) for each prompt, one batched forward pass; and whether each was truncated."""
        torch = self.torch
        encoded = [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        truncated = [len(ids) > self.max_length for ids in encoded]
        encoded = [ids[-self.max_length :] for ids in encoded]
        width = max(len(ids) for ids in encoded)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in encoded])
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded])
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = self.model(
                input_ids=input_ids.to(self.model.device),
                attention_mask=attention.to(self.model.device),
                position_ids=positions.to(self.model.device),
            ).logits[:, -1, :]
        probs = logits.float().softmax(-1)
        yes = probs[:, sorted(self.yes_ids)].sum(-1)
        no = probs[:, sorted(self.no_ids)].sum(-1)
        return (yes / (yes + no)).tolist(), truncated

    def judge(self, items: Sequence[JudgeItem], on_result: OnResult | None = None) -> list[Judgment]:
        pairs = [(i, q) for i in range(len(items)) for q in range(len(self.rubric.questions))]
        judgments = [
            Judgment(answers=dict.fromkeys(self.rubric.ids), p_yes=dict.fromkeys(self.rubric.ids))
            for _ in items
        ]
        remaining = [len(self.rubric.questions)] * len(items)
        size = self.config.hf.batch_size
        for start in range(0, len(pairs), size):
            batch = pairs[start : start + size]
            probabilities, truncated = self.p_yes([self.prompt(items[i], q) for i, q in batch])
            for (i, q), p, cut in zip(batch, probabilities, truncated, strict=True):
                qid = self.rubric.questions[q].id
                judgment = judgments[i]
                judgment.p_yes[qid] = round(p, 6)
                judgment.answers[qid] = "yes" if p >= 0.5 else "no"
                judgment.raw[qid] = f"P(yes)={p:.6f}"
                if cut:
                    judgment.extra["truncated"] = True
                remaining[i] -= 1
                if remaining[i] == 0 and on_result is not None:
                    on_result(i, judgment)
        return judgments

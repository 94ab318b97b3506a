"""The `openai:MODEL` judge: any OpenAI-compatible chat server answers the rubric.

Two request modes (temperature 0 in both):
- `per-question`: one request per question, a one-token answer, `logprobs` + `top_logprobs` so
  P(yes) = mass(yes-tokens) / (mass(yes) + mass(no)) among the alternatives returned.
- `rubric`: one request answering all questions as a JSON object (structured outputs with a JSON
  schema, validated with pydantic on our side too); 8x fewer requests. P(yes) is read from the
  logprobs of each value token when the server returns them.
Reliability, pacing, caching and cost come from `gorilla_rlaif.llm`.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ValidationError, create_model

from gorilla_rlaif.judge.base import Judge, JudgeConfig, JudgeItem, Judgment, OnResult
from gorilla_rlaif.judge.rubric import Rubric
from gorilla_rlaif.llm import (
    ChatRequest,
    ChatResult,
    LLMClient,
    MalformedAnswer,
    ResponseCache,
    resolve_api_key,
    run_sync,
)

_WORD = re.compile(r"[^a-z]")


def _norm(token: str) -> str:
    return _WORD.sub("", token.lower())


def p_yes_from_top(top: list[dict[str, Any]] | None) -> float | None:
    """P(yes) from the alternatives of one token position (yes/Yes/" yes" all count as yes)."""
    if not top:
        return None
    yes = sum(math.exp(a["logprob"]) for a in top if _norm(a["token"]) == "yes")
    no = sum(math.exp(a["logprob"]) for a in top if _norm(a["token"]) == "no")
    if yes + no <= 0:
        return None
    return yes / (yes + no)


def parse_yes_no(content: str) -> str:
    """'Yes', 'no.', ' YES' -> yes/no; anything else is malformed."""
    word = content.strip().strip(".!\"'`*").strip().lower()
    if word in ("yes", "no"):
        return word
    raise MalformedAnswer(f"expected 'yes' or 'no', got {content.strip()[:60]!r}")


class OpenAIJudge(Judge):
    backend = "openai"

    def __init__(self, config: JudgeConfig, rubric: Rubric, cache: ResponseCache | None = None):
        super().__init__(config, rubric)
        self.cache = cache
        self._api_key = resolve_api_key(config.openai.llm)  # fail before any work if there is no key
        self.client: LLMClient | None = None
        fields: dict[str, Any] = {q.id: (Literal["yes", "no"], ...) for q in rubric.questions}
        self._answers_model = create_model("RubricAnswers", **fields)
        self._totals: dict[str, Any] = {}

    def settings(self) -> dict[str, Any]:
        out = {
            "backend": "openai",
            "model": self.config.openai.llm.model,
            "mode": self.config.mode,
            "temperature": 0.0,
            **self.rubric.describe(),
        }
        if self.config.mode == "per-question":
            out["top_logprobs"] = self.config.openai.top_logprobs
        else:
            out["response_format"] = self.config.openai.response_format
        return out

    def totals(self) -> dict[str, Any]:
        return self._totals

    # ---- requests -------------------------------------------------------------------------
    def _messages(self, user: str) -> tuple[dict[str, str], ...]:
        return ({"role": "system", "content": self.rubric.system}, {"role": "user", "content": user})

    def _key_extra(self) -> dict[str, Any]:
        return {
            "rubric": self.rubric.name,
            "rubric_version": self.rubric.version,
            "rubric_hash": self.rubric.hash,
        }

    def question_request(self, item: JudgeItem, index: int) -> ChatRequest:
        question = self.rubric.questions[index]
        top = self.config.openai.top_logprobs
        return ChatRequest(
            messages=self._messages(
                self.rubric.per_question_prompt(item.instruction, item.completion, question)
            ),
            max_tokens=1,
            temperature=0.0,
            logprobs=top > 0,
            top_logprobs=top or None,
            key_extra={**self._key_extra(), "question": question.id},
        )

    def rubric_request(self, item: JudgeItem) -> ChatRequest:
        if self.config.openai.response_format == "json_schema":
            schema = {
                "type": "object",
                "properties": {
                    q.id: {"type": "string", "enum": ["yes", "no"]} for q in self.rubric.questions
                },
                "required": list(self.rubric.ids),
                "additionalProperties": False,
            }
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": "rubric_answers", "strict": True, "schema": schema},
            }
        else:
            response_format = {"type": "json_object"}
        return ChatRequest(
            messages=self._messages(self.rubric.rubric_prompt(item.instruction, item.completion)),
            max_tokens=30 + 12 * len(self.rubric.questions),
            temperature=0.0,
            logprobs=True,
            top_logprobs=max(self.config.openai.top_logprobs, 2) if self.config.openai.top_logprobs else None,
            response_format=response_format,
            key_extra=self._key_extra(),
        )

    # ---- validation -----------------------------------------------------------------------
    @staticmethod
    def _validate_question(content: str, logprobs: list[dict[str, Any]] | None) -> tuple[str, float | None]:
        answer = parse_yes_no(content)
        p = p_yes_from_top(logprobs[0]["top_logprobs"]) if logprobs else None
        return answer, p

    def _validate_rubric(
        self, content: str, logprobs: list[dict[str, Any]] | None
    ) -> tuple[dict[str, str], dict[str, float | None]]:
        text = content.strip()
        if text.startswith("```"):
            text = text.strip("`").removeprefix("json").strip()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedAnswer(f"not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(data, dict):
            raise MalformedAnswer(f"expected a JSON object, got {type(data).__name__}")
        data = {k: v.strip().lower() if isinstance(v, str) else v for k, v in data.items()}
        try:
            answers = self._answers_model.model_validate(data).model_dump()
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:4]
            )
            raise MalformedAnswer(f"answers do not match the rubric ({problems})") from None
        return answers, self._rubric_probabilities(content, logprobs)

    def _rubric_probabilities(
        self, content: str, logprobs: list[dict[str, Any]] | None
    ) -> dict[str, float | None]:
        """P(yes) per question from the logprobs of the token where each value starts."""
        out: dict[str, float | None] = dict.fromkeys(self.rubric.ids)
        if not logprobs or "".join(t["token"] for t in logprobs) != content:
            return out
        starts, pos = [], 0
        for token in logprobs:
            starts.append(pos)
            pos += len(token["token"])
        for m in re.finditer(r'"([a-z][a-z0-9_]*)"\s*:\s*"\s*(yes|no)', content, re.I):
            qid, value_at = m.group(1), m.start(2)
            if qid not in out:
                continue
            index = max(i for i, s in enumerate(starts) if s <= value_at)
            out[qid] = p_yes_from_top(logprobs[index].get("top_logprobs"))
        return out

    # ---- judging --------------------------------------------------------------------------
    def judge(self, items: Sequence[JudgeItem], on_result: OnResult | None = None) -> list[Judgment]:
        return run_sync(self.ajudge(items, on_result))

    async def ajudge(self, items: Sequence[JudgeItem], on_result: OnResult | None = None) -> list[Judgment]:
        results: list[Judgment | None] = [None] * len(items)
        async with LLMClient(
            self.config.openai.llm, self.cache, namespace="judge:openai", api_key=self._api_key
        ) as client:
            self.client = client
            next_index = iter(range(len(items)))

            async def worker() -> None:
                for i in next_index:
                    judgment = await self._judge_one(client, items[i])
                    results[i] = judgment
                    if on_result is not None:
                        on_result(i, judgment)

            # Items in flight = concurrency: enough to keep every request slot busy, without
            # creating a coroutine per item for large files.
            n_workers = min(len(items), self.config.openai.llm.concurrency)
            await asyncio.gather(*(worker() for _ in range(n_workers)))
            self._totals = client.totals.as_dict()
        return [r for r in results if r is not None]

    async def _judge_one(self, client: LLMClient, item: JudgeItem) -> Judgment:
        judgment = Judgment(answers=dict.fromkeys(self.rubric.ids), p_yes=dict.fromkeys(self.rubric.ids))
        if self.config.mode == "per-question":
            requests = [self.question_request(item, i) for i in range(len(self.rubric.questions))]
            chat_results = await asyncio.gather(*(client.chat(r, self._validate_question) for r in requests))
            for question, result in zip(self.rubric.questions, chat_results, strict=True):
                self._account(judgment, result)
                judgment.raw[question.id] = (
                    result.content if result.ok else {"error": result.error, "malformed": result.malformed}
                )
                if result.ok:
                    judgment.answers[question.id], judgment.p_yes[question.id] = result.value
                else:
                    judgment.errors[question.id] = result.error or "failed"
        else:
            result = await client.chat(self.rubric_request(item), self._validate_rubric)
            self._account(judgment, result)
            judgment.raw["rubric"] = (
                result.content if result.ok else {"error": result.error, "malformed": result.malformed}
            )
            if result.ok:
                answers, probabilities = result.value
                judgment.answers.update(answers)
                judgment.p_yes.update(probabilities)
            else:
                judgment.errors["rubric"] = result.error or "failed"
        return judgment

    @staticmethod
    def _account(judgment: Judgment, result: ChatResult) -> None:
        judgment.requests += 1
        judgment.cached_requests += int(result.cached)
        judgment.prompt_tokens += result.usage.prompt_tokens
        judgment.completion_tokens += result.usage.completion_tokens
        if result.cost_usd is not None:
            judgment.cost_usd = (judgment.cost_usd or 0.0) + result.cost_usd
            if not result.cached:
                judgment.spent_usd += result.cost_usd

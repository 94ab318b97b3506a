"""The `openai:MODEL` judge: any OpenAI-compatible chat server answers the rubric.

Two request modes (temperature 0 in both):
- `per-question`: one request per question, a one-token answer, with `logprobs` +
  `top_logprobs` when the server gives them. The answer is read from the probability mass of
  yes-tokens and no-tokens among the alternatives (`yes`, ` Yes`, `YES` all count as yes), so a
  small model whose top token is something else (SmolLM2 starts 151 of 160 answers with the `<<`
  of the `<<<domain>>>` markers it was shown) still answers, provided yes+no hold at least
  `min_yes_no_mass` of the probability. Each answer records how it was obtained: `top_token`
  (the top token is yes/no and agrees with the masses), `logprob_mass` (read from the masses),
  `reask` (only a re-ask was readable).
  P(yes) = mass(yes) / (mass(yes) + mass(no)). When one side is absent from the k alternatives
  returned, its probability is not 0 but unknown, and at most that of the k-th (least likely)
  alternative, and at most the mass the k alternatives leave over: we use that bound, so
  P(yes) is a lower bound (or P(no) is) instead of an overconfident 1.0 (or 0.0).
- `rubric`: one request answering all questions as a JSON object, validated with pydantic on our
  side too; 8x fewer requests. The response format is the first the server accepts and enforces
  (`gorilla_rlaif.judge.capabilities`: json_schema -> json_object + schema -> json_object ->
  none), negotiated once per run and server. P(yes) is read from the logprobs of each value token
  when the server returns them.

Reliability, pacing, caching, re-asks and cost come from `gorilla_rlaif.llm`. A refused request
shape stops the run at once with the flag that fixes it; the same failure on
`max_consecutive_failures` rows in a row stops it with the reason (rows done so far are saved and
a re-run goes on from there).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError, create_model

from gorilla_rlaif.judge.base import Judge, JudgeConfig, JudgeItem, JudgeStopped, Judgment, OnResult
from gorilla_rlaif.judge.capabilities import (
    OPENAI_URL,
    Capabilities,
    negotiate,
    response_format_body,
)
from gorilla_rlaif.judge.rubric import Rubric
from gorilla_rlaif.llm import (
    ChatRequest,
    ChatResult,
    LLMClient,
    MalformedAnswer,
    RequestShapeError,
    ResponseCache,
    resolve_api_key,
    run_sync,
)

log = logging.getLogger(__name__)

MAX_TOP_LOGPROBS = 20  # the most OpenAI, vLLM and Ollama return per token

_WORD = re.compile(r"[^a-z]")


def _norm(token: str) -> str:
    return _WORD.sub("", token.lower())


@dataclass(frozen=True)
class YesNoMass:
    """Probability mass of yes- and no-tokens at one token position."""

    yes: float
    no: float
    p_yes: float | None
    bounded: Literal["yes", "no"] | None = None  # the side absent from the alternatives

    @property
    def total(self) -> float:
        return self.yes + self.no


def yes_no_mass(position: dict[str, Any] | None) -> YesNoMass | None:
    """The yes/no masses of one token position (`{"token", "logprob", "top_logprobs"}`); None
    without alternatives. A side absent from the k alternatives is bounded by
    min(P(k-th alternative), 1 - P(all k alternatives)) instead of being taken as 0."""
    if not position:
        return None
    top = position.get("top_logprobs") or []
    if not top:
        return None
    probs: dict[str, float] = {a["token"]: math.exp(a["logprob"]) for a in top}
    if position.get("token") is not None and position.get("logprob") is not None:
        probs.setdefault(position["token"], math.exp(position["logprob"]))
    yes = sum(p for t, p in probs.items() if _norm(t) == "yes")
    no = sum(p for t, p in probs.items() if _norm(t) == "no")
    if yes + no <= 0:
        return YesNoMass(0.0, 0.0, None)
    if yes > 0 and no > 0:
        return YesNoMass(yes, no, yes / (yes + no))
    kth = min(math.exp(a["logprob"]) for a in top)
    bound = min(kth, max(0.0, 1.0 - sum(probs.values())))
    if no == 0:
        return YesNoMass(yes, no, yes / (yes + bound), bounded="no")
    return YesNoMass(yes, no, bound / (bound + no), bounded="yes")


def p_yes_from_top(top: list[dict[str, Any]] | None) -> float | None:
    """P(yes) from the alternatives of one token position (yes/Yes/" yes" all count as yes)."""
    mass = yes_no_mass({"top_logprobs": top or []})
    return mass.p_yes if mass else None


def parse_yes_no(content: str) -> str:
    """'Yes', 'no.', ' YES' -> yes/no; anything else is malformed."""
    word = content.strip().strip(".!\"'`*").strip().lower()
    if word in ("yes", "no"):
        return word
    raise MalformedAnswer(f"expected 'yes' or 'no', got {content.strip()[:60]!r}")


@dataclass(frozen=True)
class QuestionAnswer:
    answer: str
    p_yes: float | None
    source: Literal["top_token", "logprob_mass"]
    mass: float | None  # P(yes-tokens) + P(no-tokens) among the alternatives


def read_question_answer(
    content: str, logprobs: list[dict[str, Any]] | None, min_mass: float
) -> QuestionAnswer:
    """The answer of a one-token reply: the larger of the yes/no masses when they hold at least
    `min_mass` (whatever the top token), else the top token if it is yes/no, else malformed."""
    try:
        word: str | None = parse_yes_no(content)
    except MalformedAnswer:
        word = None
    mass = yes_no_mass(logprobs[0]) if logprobs else None
    total = mass.total if mass is not None else None
    if mass is not None and mass.p_yes is not None and mass.total >= min_mass:
        answer = "yes" if mass.p_yes >= 0.5 else "no"
        return QuestionAnswer(answer, mass.p_yes, "top_token" if word == answer else "logprob_mass", total)
    if word is not None:
        return QuestionAnswer(word, mass.p_yes if mass else None, "top_token", total)
    if mass is None:
        raise MalformedAnswer(f"expected 'yes' or 'no', got {content.strip()[:60]!r} (no logprobs to read)")
    raise MalformedAnswer(
        f"expected 'yes' or 'no', got {content.strip()[:60]!r}, and yes+no hold {mass.total:.1%} of the "
        f"probability among the alternatives (minimum {min_mass:.1%}, --min-yes-no-mass)"
    )


# What fixes a refused request shape, by the parameter the server refused.
_SHAPE_FIX = {
    "response_format": "--response-format auto (uses the first format the server accepts), or one of "
    "json_object_schema, json_object, none",
    "logprobs": "--top-logprobs 0 (answers from the top token alone, no P(yes))",
    "top_logprobs": "a smaller --top-logprobs (0 turns logprobs off)",
    "max_tokens": "a server or model that accepts max_tokens",
    "seed": "--max-malformed-retries 1 (re-asks from the second on send a seed)",
    "temperature": "--max-malformed-retries 1 (re-asks from the second on sample at a temperature)",
}
# What to look at when rows keep failing the same way, by failure kind.
_BREAKER_HINT = {
    "malformed": {
        "per-question": "the model's replies cannot be read as yes or no, not even from their logprobs: "
        "check the model, --top-logprobs and --min-yes-no-mass, or try --mode rubric",
        "rubric": "the model's JSON does not answer the rubric: use --response-format auto (so the server "
        "enforces a schema when it can), or --mode per-question",
    },
    "timeout": "raise --timeout or lower --concurrency (some servers, e.g. llama-cpp-python's, answer "
    "one request at a time, so requests wait in a queue)",
    "connection": "is the server running and reachable at --base-url?",
}


class OpenAIJudge(Judge):
    backend = "openai"

    def __init__(self, config: JudgeConfig, rubric: Rubric, cache: ResponseCache | None = None):
        super().__init__(config, rubric)
        self.cache = cache
        self._api_key = resolve_api_key(config.openai.llm)  # fail before any work if there is no key
        self.client: LLMClient | None = None
        fields: dict[str, Any] = {q.id: (Literal["yes", "no"], ...) for q in rubric.questions}
        self._answers_model = create_model("RubricAnswers", **fields)
        self._schema = {
            "type": "object",
            "properties": {q.id: {"type": "string", "enum": ["yes", "no"]} for q in rubric.questions},
            "required": list(rubric.ids),
            "additionalProperties": False,
        }
        self._totals: dict[str, Any] = {}
        self._negotiation: dict[str, Any] = {}
        self.capabilities: Capabilities | None = None

    # ---- what the server accepts ------------------------------------------------------------
    @property
    def server(self) -> str:
        return self.config.openai.llm.base_url or OPENAI_URL

    def prepare(self) -> None:
        """Negotiate, once, what this run needs from the server (see `capabilities`)."""
        if self.capabilities is not None:
            return
        needs = {
            "need_logprobs": self.config.openai.top_logprobs,
            "need_format": self.config.mode == "rubric" and self.config.openai.response_format == "auto",
            "need_parallel": self.config.openai.llm.concurrency > 1,
        }
        known = None
        if self.cache is not None:
            stored = self.cache.get_capabilities(self.server, self.config.openai.llm.model)
            known = Capabilities.model_validate(stored) if stored else None
        if not any(needs.values()):
            self.capabilities = known or Capabilities(server=self.server, model=self.config.openai.llm.model)
            return
        self.capabilities = run_sync(self._negotiate(known, **needs))

    async def _negotiate(self, known: Capabilities | None, **needs: Any) -> Capabilities:
        settings = self.config.openai.llm.model_copy(
            update={"concurrency": max(4, self.config.openai.llm.concurrency)}
        )
        async with LLMClient(settings, None, namespace="judge:probe", api_key=self._api_key) as client:
            caps = await negotiate(client, known, **needs)
            self._negotiation = client.totals.as_dict()
        fresh = caps != known
        if fresh and self.cache is not None:
            self.cache.put_capabilities(
                self.server, self.config.openai.llm.model, caps.model_dump(mode="json")
            )
        log.info(
            "%s (%s): %s [%s]",
            self.server,
            self.config.openai.llm.model,
            caps.summary(),
            f"negotiated with {self._negotiation.get('probes', 0)} probe request(s)"
            if fresh
            else "from the run's cache",
        )
        for probe in caps.probes if fresh else ():
            log.debug("probe %s: %s", probe.what, probe.outcome)
        return caps

    @property
    def response_format(self) -> str:
        """The rubric mode's response format in use (negotiated when `auto`)."""
        if self.config.openai.response_format != "auto":
            return self.config.openai.response_format
        assert self.capabilities is not None and self.capabilities.response_format, "call prepare() first"
        return self.capabilities.response_format

    @property
    def concurrency(self) -> int:
        """Requests in flight: the setting, or 1 for a server that answers one at a time."""
        if self.capabilities is not None and self.capabilities.parallel is False:
            return 1
        return self.config.openai.llm.concurrency

    @property
    def top_logprobs(self) -> int:
        """Alternatives asked for: the setting, or 0 when the server gives no logprobs."""
        if not self.config.openai.top_logprobs:
            return 0
        caps = self.capabilities
        if caps is None or caps.logprobs is None:
            return self.config.openai.top_logprobs
        if self.config.mode == "rubric" and caps.rubric_logprobs is False:
            return 0
        return self.config.openai.top_logprobs if caps.logprobs else 0

    def settings(self) -> dict[str, Any]:
        self.prepare()
        out = {
            "backend": "openai",
            "model": self.config.openai.llm.model,
            "mode": self.config.mode,
            "temperature": 0.0,
            **self.rubric.describe(),
            "top_logprobs": self.top_logprobs,
        }
        if self.config.mode == "per-question":
            out["min_yes_no_mass"] = self.config.openai.min_yes_no_mass
        else:
            out["response_format"] = self.response_format
        return out

    def server_capabilities(self) -> dict[str, Any] | None:
        return self.capabilities.model_dump(mode="json") if self.capabilities else None

    def totals(self) -> dict[str, Any]:
        out = dict(self._totals)
        if self._negotiation:
            for key in ("requests_sent", "probes", "prompt_tokens", "completion_tokens"):
                out[key] = out.get(key, 0) + self._negotiation.get(key, 0)
            if out.get("cost_usd") is not None and self._negotiation.get("cost_usd") is not None:
                out["cost_usd"] += self._negotiation["cost_usd"]
        return out

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
        top = self.top_logprobs
        return ChatRequest(
            messages=self._messages(
                self.rubric.per_question_prompt(item.instruction, item.completion, question)
            ),
            max_tokens=1,
            temperature=0.0,
            logprobs=top > 0,
            top_logprobs=top or None,
            key_extra={**self._key_extra(), "question": question.id},
            reask_instruction="Reply with exactly one word: yes or no.",
            # a re-ask also looks further down the distribution for yes and no
            reask_params={"top_logprobs": MAX_TOP_LOGPROBS} if 0 < top < MAX_TOP_LOGPROBS else {},
        )

    def _keys_form(self) -> str:
        return "{" + ", ".join(f'"{q}": "..."' for q in self.rubric.ids) + "}"

    def rubric_request(self, item: JudgeItem) -> ChatRequest:
        kind = self.response_format
        prompt = self.rubric.rubric_prompt(item.instruction, item.completion)
        if kind in ("json_object", "none"):  # nothing enforces the keys: spell them out
            prompt += f'\nUse exactly this form, each value "yes" or "no": {self._keys_form()}'
        top = self.top_logprobs
        return ChatRequest(
            messages=self._messages(prompt),
            max_tokens=30 + 12 * len(self.rubric.questions),
            temperature=0.0,
            logprobs=top > 0,
            top_logprobs=max(top, 2) if top else None,
            response_format=response_format_body(kind, self._schema, "rubric_answers"),  # type: ignore[arg-type]
            key_extra=self._key_extra(),
            reask_instruction=f'Reply with only this JSON object, each value "yes" or "no": {self._keys_form()}',
        )

    # ---- validation -----------------------------------------------------------------------
    def _validate_question(self, content: str, logprobs: list[dict[str, Any]] | None) -> QuestionAnswer:
        return read_question_answer(content, logprobs, self.config.openai.min_yes_no_mass)

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
        ids = {q.lower(): q for q in self.rubric.ids}
        data = {
            ids.get(str(k).strip().lower(), k): (
                ("yes" if v else "no")
                if isinstance(v, bool)
                else v.strip().lower()
                if isinstance(v, str)
                else v
            )
            for k, v in data.items()
        }
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
        self.prepare()
        return run_sync(self.ajudge(items, on_result))

    async def ajudge(self, items: Sequence[JudgeItem], on_result: OnResult | None = None) -> list[Judgment]:
        results: list[Judgment | None] = [None] * len(items)
        breaker = _Breaker(self.config.openai.max_consecutive_failures)
        settings = self.config.openai.llm
        if self.concurrency != settings.concurrency:
            log.info(
                "%s answers one request at a time: sending 1 at a time instead of %d (queued requests "
                "would time out)",
                self.server,
                settings.concurrency,
            )
            settings = settings.model_copy(update={"concurrency": self.concurrency})
        async with LLMClient(settings, self.cache, namespace="judge:openai", api_key=self._api_key) as client:
            self.client = client
            next_index = iter(range(len(items)))

            async def worker() -> None:
                for i in next_index:
                    judgment = await self._judge_one(client, items[i])
                    results[i] = judgment
                    if on_result is not None:
                        on_result(i, judgment)
                    if breaker.record(judgment):
                        return  # stop taking rows; the ones in flight finish and are saved

            # Items in flight = concurrency: enough to keep every request slot busy, without
            # creating a coroutine per item for large files.
            n_workers = min(len(items), settings.concurrency)
            try:
                await asyncio.gather(*(worker() for _ in range(n_workers)))
            except RequestShapeError as exc:
                fix = _SHAPE_FIX.get(exc.param or "", "a request the server accepts")
                raise JudgeStopped(
                    f"{exc}. This is not transient, so nothing was retried: fix it with {fix}, then "
                    "re-run the same command (rows labeled so far are kept)"
                ) from None
            finally:
                self._totals = client.totals.as_dict()
        if breaker.tripped is not None:
            raise JudgeStopped(self._breaker_message(breaker, sum(r is not None and r.ok for r in results)))
        return [r for r in results if r is not None]

    def _breaker_message(self, breaker: _Breaker, ok: int) -> str:
        kind, error = breaker.tripped  # type: ignore[misc]
        hint = _BREAKER_HINT.get(kind, "see the reason above")
        if isinstance(hint, dict):
            hint = hint[self.config.mode]
        if kind.startswith("http_5"):
            hint = "the server keeps failing: see its log"
        return (
            f"stopped: {breaker.limit} rows in a row failed the same way ({kind}), last: {error[:240]}. "
            f"What to check: {hint}. Nothing is lost: the {ok} rows judged so far are saved; re-run the "
            "same command to go on (--retry-failed also re-asks the failed rows; "
            "--max-consecutive-failures 0 never stops)"
        )

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
                    answer: QuestionAnswer = result.value
                    judgment.answers[question.id] = answer.answer
                    judgment.p_yes[question.id] = answer.p_yes
                    judgment.sources[question.id] = "reask" if result.reasks else answer.source
                    judgment.yes_no_mass[question.id] = (
                        round(answer.mass, 6) if answer.mass is not None else None
                    )
                else:
                    judgment.errors[question.id] = result.error or "failed"
                    judgment.failure_kind = judgment.failure_kind or result.failure_kind or "failed"
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
                judgment.sources = dict.fromkeys(self.rubric.ids, "reask" if result.reasks else "json")
            else:
                judgment.errors["rubric"] = result.error or "failed"
                judgment.failure_kind = result.failure_kind or "failed"
        return judgment

    @staticmethod
    def _account(judgment: Judgment, result: ChatResult) -> None:
        judgment.requests += 1 + result.reasks
        judgment.reasks += result.reasks
        judgment.cached_requests += int(result.cached)
        judgment.prompt_tokens += result.usage.prompt_tokens
        judgment.completion_tokens += result.usage.completion_tokens
        if result.cost_usd is not None:
            judgment.cost_usd = (judgment.cost_usd or 0.0) + result.cost_usd
            if not result.cached:
                judgment.spent_usd += result.cost_usd


class _Breaker:
    """Counts rows in a row (in the order they finish) that failed the same way."""

    def __init__(self, limit: int):
        self.limit = limit
        self.kind: str | None = None
        self.count = 0
        self.tripped: tuple[str, str] | None = None

    def record(self, judgment: Judgment) -> bool:
        """Record one finished row; True once the run must stop."""
        if self.tripped is not None:
            return True
        if judgment.ok:
            self.kind, self.count = None, 0
            return False
        kind = judgment.failure_kind or "failed"
        self.count = self.count + 1 if kind == self.kind else 1
        self.kind = kind
        if self.limit and self.count >= self.limit:
            self.tripped = (kind, judgment.error or kind)
            return True
        return False

"""What an OpenAI-compatible server accepts, found out once per run and per server.

Servers that speak "the OpenAI API" differ exactly where the judge needs them most (from their
documentation; llama-cpp-python's row was measured here, in tests/test_llama_server.py):

| server | `json_schema` | `json_object` + `schema` | `json_object` | `logprobs` |
|---|---|---|---|---|
| OpenAI, vLLM, Ollama, llama.cpp's `llama-server` | enforced | (ignored or enforced) | yes | yes (Ollama: recent versions) |
| llama-cpp-python's server (0.3.x) | refused: HTTP 500 | enforced | yes | yes |

So before the first real request the judge asks small probe questions (a few tokens each) and
takes, for rubric mode, the first response format in this order that the server both accepts
and *enforces*: `json_schema` (structured outputs) -> `json_object` with a `schema` (llama.cpp's
form) -> plain `json_object` -> `none` (the prompt alone asks for JSON). Enforcement is tested
with a schema whose single key (`PROBE_KEY`) no prompt mentions: an answer that has it came
from the server's grammar, not from the model. Logprobs are probed with one one-token question:
they count as supported when the answer carries `top_logprobs`.

Whether the server answers requests in parallel is found out too, when the run would send more
than one at a time, from the order of the answers, not from their times: one long request (a
count written up to 32 tokens) and, 0.1 s later, two one-token questions. A server that answers
one request at a time (llama-cpp-python's server holds a lock around its one model; Ollama with
`OLLAMA_NUM_PARALLEL=1`) answers the short ones after the long one; a parallel one (vLLM, OpenAI,
`llama-server -np N`) answers a short one while the long one is still being written. Timing
alone misled on this busy machine: probes sent alone took longer than the same probes sent
together, in two runs of three, because of other jobs' load; the order does not depend on how
fast the machine is. That order is one at a time -> the run sends one request at a time,
since requests queued behind each other on such a server time out on the client (the server
still computes the abandoned ones) and are retried: against llama-cpp-python with 8 in flight,
10 of 30 rubric requests timed out at 60 s. Not measured when the long answer comes back in
under `PARALLEL_PROBE_MIN_SECONDS` or stops early (queueing cannot hurt there / nothing to order).

The decision is stored in the run's SQLite cache (table `capabilities`, keyed by server URL and
model), logged, recorded in the feedback rows' judge settings and the run's meta file, and
reused when the run resumes, so a resumed run sends the same request shapes (and hits its
cached answers). A format set explicitly (`response_format` other than `auto`) is never probed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from gorilla_rlaif.llm import ChatRequest, LLMClient, LLMFatalError, RequestShapeError
from gorilla_rlaif.provenance import utc_now

log = logging.getLogger(__name__)

ResponseFormat = Literal["json_schema", "json_object_schema", "json_object", "none"]
# The fallback order for rubric mode (`response_format: auto`).
FORMAT_ORDER: tuple[ResponseFormat, ...] = ("json_schema", "json_object_schema", "json_object", "none")
PROBE_KEY = "probe_answer_qz"
PARALLEL_PROBE_MIN_SECONDS = 0.05
PARALLEL_LONG_TOKENS = 32
PARALLEL_SHORT_DELAY = 0.1  # seconds after the long request, so that it is the first in line
OPENAI_URL = "https://api.openai.com/v1"


class Probe(BaseModel):
    what: str
    outcome: str


class Capabilities(BaseModel):
    """What one server accepted for one model; None = not probed (not needed by that run)."""

    server: str
    model: str
    logprobs: bool | None = None
    top_logprobs_asked: int | None = None
    top_logprobs_returned: int | None = Field(None, description="alternatives per token the server gave")
    response_format: ResponseFormat | None = None
    rubric_logprobs: bool | None = Field(None, description="logprobs accepted together with that format")
    parallel: bool | None = Field(None, description="answers several requests at once (None: not measured)")
    seconds_per_probe: float | None = Field(None, description="how long the long parallelism probe took")
    probes: list[Probe] = Field(default_factory=list)
    negotiated_at: str = Field(default_factory=utc_now)

    def summary(self) -> str:
        parts = []
        if self.response_format is not None:
            parts.append(f"response_format={self.response_format}")
        if self.logprobs is not None:
            parts.append(
                f"logprobs={'yes' if self.logprobs else 'no'}"
                + (f" (top {self.top_logprobs_returned})" if self.logprobs else "")
            )
        if self.parallel is not None:
            parts.append("parallel requests" if self.parallel else "one request at a time")
        return ", ".join(parts) or "nothing negotiated"


def response_format_body(kind: ResponseFormat, schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The `response_format` request field for one kind (None: send none)."""
    if kind == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}
    if kind == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    if kind == "json_object":
        return {"type": "json_object"}
    return None


_PROBE_SCHEMA = {
    "type": "object",
    "properties": {PROBE_KEY: {"type": "string", "enum": ["yes", "no"]}},
    "required": [PROBE_KEY],
    "additionalProperties": False,
}
_PROBE_QUESTION = "Is water wet? Reply with a single word: yes or no."


def _enforced(content: str | None) -> bool:
    try:
        data = json.loads((content or "").strip())
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and str(data.get(PROBE_KEY, "")).strip().lower() in ("yes", "no")


def _one_token(question: str, top: int) -> ChatRequest:
    return ChatRequest(
        messages=({"role": "user", "content": question},),
        max_tokens=1,
        temperature=0.0,
        logprobs=top > 0,
        top_logprobs=top or None,
    )


async def _timed(client: LLMClient, caps: Capabilities, request: ChatRequest) -> float:
    start = time.monotonic()
    result = await client.probe(request)
    if not result.ok:
        raise LLMFatalError(f"{caps.server} did not answer the capability probe (timing): {result.error}")
    return time.monotonic() - start


async def _probe_parallel(client: LLMClient, caps: Capabilities) -> None:
    """One long request (a count written up to `PARALLEL_LONG_TOKENS` tokens), then, once it is on
    its way, two one-token questions. A server answering one request at a time answers them after
    the long one; a parallel one before it."""
    long_request = ChatRequest(
        messages=({"role": "user", "content": "Count from 1 to 100, separated by commas."},),
        max_tokens=PARALLEL_LONG_TOKENS,
        temperature=0.0,
    )
    short = [_one_token(f"{q} Reply yes or no.", 0) for q in ("Is fire hot?", "Is ice cold?")]
    start = time.monotonic()

    async def finished(request: ChatRequest, delay: float) -> tuple[float, Any]:
        await asyncio.sleep(delay)
        result = await client.probe(request)
        if not result.ok:
            raise LLMFatalError(f"{caps.server} did not answer the capability probe (timing): {result.error}")
        return time.monotonic() - start, result

    (t_long, long_result), *shorts = await asyncio.gather(
        finished(long_request, 0.0), *(finished(r, PARALLEL_SHORT_DELAY) for r in short)
    )
    t_short = sorted(t for t, _ in shorts)
    caps.seconds_per_probe = round(t_long, 4)
    tokens = long_result.usage.completion_tokens
    told = f"long answer ({tokens} tokens) after {t_long:.2f} s, the two short ones after " + "/".join(
        f"{t:.2f}" for t in t_short
    )
    if t_long - PARALLEL_SHORT_DELAY < PARALLEL_PROBE_MIN_SECONDS or tokens < PARALLEL_LONG_TOKENS // 2:
        caps.probes.append(Probe(what="parallel requests", outcome=f"not measured: {told}"))
        return
    caps.parallel = t_short[0] < t_long  # a short one was answered while the long one was running
    caps.probes.append(
        Probe(
            what="parallel requests", outcome=f"{told} s: {'parallel' if caps.parallel else 'one at a time'}"
        )
    )


async def _probe_logprobs(client: LLMClient, caps: Capabilities, top: int) -> None:
    request = _one_token(_PROBE_QUESTION, top)
    what = f"logprobs with top_logprobs={top}"
    caps.top_logprobs_asked = top
    try:
        result = await client.probe(request)
    except RequestShapeError as exc:
        caps.logprobs = False
        caps.probes.append(Probe(what=what, outcome=f"refused: {exc.detail[:200]}"))
        return
    if not result.ok:
        raise LLMFatalError(f"{caps.server} did not answer the capability probe ({what}): {result.error}")
    alternatives = len((result.logprobs or [{}])[0].get("top_logprobs") or []) if result.logprobs else 0
    caps.logprobs = alternatives > 0
    caps.top_logprobs_returned = alternatives
    caps.probes.append(
        Probe(
            what=what,
            outcome=f"{alternatives} alternatives returned"
            if alternatives
            else "accepted, no logprobs returned",
        )
    )


async def _probe_formats(client: LLMClient, caps: Capabilities, top: int) -> None:
    with_logprobs = bool(caps.logprobs) and top > 0
    for kind in FORMAT_ORDER:
        if kind == "none":
            caps.response_format, caps.rubric_logprobs = "none", with_logprobs
            caps.probes.append(Probe(what="response_format=none", outcome="the prompt alone asks for JSON"))
            return
        while True:
            request = ChatRequest(
                messages=({"role": "user", "content": "Is water wet? Reply with a JSON object."},),
                max_tokens=24,
                temperature=0.0,
                logprobs=with_logprobs,
                top_logprobs=top if with_logprobs else None,
                response_format=response_format_body(kind, _PROBE_SCHEMA, "probe"),
            )
            what = f"response_format={kind}" + (" with logprobs" if with_logprobs else "")
            try:
                result = await client.probe(request)
            except RequestShapeError as exc:
                caps.probes.append(Probe(what=what, outcome=f"refused: {exc.detail[:200]}"))
                if with_logprobs and exc.param in ("logprobs", "top_logprobs"):
                    with_logprobs = False  # the format may be fine without logprobs: ask again
                    continue
                break
            if not result.ok:
                raise LLMFatalError(
                    f"{caps.server} did not answer the capability probe ({what}): {result.error}"
                )
            enforced = _enforced(result.content)
            if kind == "json_object":
                caps.probes.append(Probe(what=what, outcome="accepted"))
            else:
                caps.probes.append(
                    Probe(
                        what=what,
                        outcome="accepted, schema enforced" if enforced else "accepted, schema ignored",
                    )
                )
                if not enforced:
                    break
            caps.response_format, caps.rubric_logprobs = kind, with_logprobs
            return


async def negotiate(
    client: LLMClient,
    known: Capabilities | None,
    *,
    need_logprobs: int,
    need_format: bool,
    need_parallel: bool,
) -> Capabilities:
    """Probe what `known` lacks: logprobs (when `need_logprobs` alternatives are wanted), the
    rubric response format (when `need_format`) and whether requests are answered in parallel
    (when `need_parallel`). Returns the merged capabilities."""
    settings = client.settings
    caps = (
        known.model_copy(deep=True)
        if known is not None
        else Capabilities(server=settings.base_url or OPENAI_URL, model=settings.model)
    )
    if need_logprobs and (caps.logprobs is None or caps.top_logprobs_asked != need_logprobs):
        await _probe_logprobs(client, caps, need_logprobs)
    if need_format and caps.response_format is None:
        await _probe_formats(client, caps, need_logprobs)
    if need_parallel and caps.seconds_per_probe is None:
        await _probe_parallel(client, caps)
    if caps != known:
        caps.negotiated_at = utc_now()
    return caps

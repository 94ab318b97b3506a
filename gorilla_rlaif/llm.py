"""Calling OpenAI-compatible chat APIs reliably: the machinery the judge and `gorilla-bench eval` share.

Answers cost money, so this module is built so that none is lost and none is paid for twice:

- `AsyncOpenAI` with a semaphore (bounded concurrency) and a requests- and tokens-per-minute
  limiter (`aiolimiter`'s leaky buckets; tokens are estimated before a request as characters/4
  plus `max_tokens`).
- Transport retries with tenacity: exponential backoff with full jitter on 429 (a `Retry-After`
  header is honoured: we wait at least that long), 408/409, 5xx, timeouts, connection errors and
  bodies that are not a chat completion. The SDK's own retries are off (`max_retries=0`) so one
  policy, ours, decides and counts. Authentication, permission and model-not-found errors stop
  the job at once (`LLMFatalError`): every further request would fail the same way.
- Malformed answers (a validator raises `MalformedAnswer`) are re-asked, up to
  `max_malformed_retries` times, then recorded as a failure with the reason and every unreadable
  answer. Never a silent None or a default value. A re-ask always changes the request: round 1
  continues the conversation with what was wrong and the caller's stricter instruction
  (`ChatRequest.reask_instruction`, with `reask_params` such as more alternatives); rounds 2+ also sample at `reask_temperature` with a seed that
  differs per round. So a deterministic server never gets the identical request twice, not even
  across `retry_failed` runs (a retried malformed failure goes on with the next round). Re-asks
  are counted (`reasks`) and paid like any request.
- A response whose body says the request's *shape* is invalid (an unsupported `response_format`,
  `logprobs`, ..., whatever the status code: llama-cpp-python answers them with HTTP 500) is not
  transient: it is never retried and stops the job (`RequestShapeError`, naming the parameter),
  since every further request would be refused the same way.
- A persistent SQLite cache (`ResponseCache`) keyed by a hash of (namespace, model, request
  settings, messages, caller's extra key such as a rubric version). Each answer is committed the
  moment it arrives, so a run killed at any point and restarted repeats no answered request.
  Failures are recorded too, and re-asked only with `retry_failed=True`.
- Token usage and cost per answer and in total, from a price table per model (USD per million
  tokens, overridable); a model without a known price has cost None, not 0.
- Secrets (`OPENAI_API_KEY`, `HF_TOKEN`, the key in use) are removed from every error message we
  keep (`redact`); the key is never part of a cache key, a row or a log line.

The base URL is deliberately not part of the cache key: the same model behind another host or
port (a restarted vLLM, a proxy) gives the same answers, and the key must survive that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import random
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gorilla_rlaif.errors import ConfigError, GorillaRlaifError
from gorilla_rlaif.provenance import stable_hash, utc_now

log = logging.getLogger(__name__)

SECRET_ENV_VARS = ("OPENAI_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AZURE_OPENAI_API_KEY")
# Placeholder sent to servers that need no key (vLLM, Ollama, our loopback server); the SDK
# refuses to start without one.
NO_KEY = "no-key-needed"


class Price(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)


# List prices (USD / 1M tokens, standard tier) at the time of writing; override with
# `LLMSettings.prices` or `--price MODEL=IN,OUT` when they change or for your provider.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-3.5-turbo": Price(input=0.50, output=1.50),
    "gpt-4o-mini": Price(input=0.15, output=0.60),
    "gpt-4o": Price(input=2.50, output=10.00),
    "gpt-4.1": Price(input=2.00, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, output=0.40),
    "gpt-4-turbo": Price(input=10.00, output=30.00),
}


class LLMSettings(BaseModel):
    """How to reach the server, at what pace, with what retries, at what price."""

    model_config = ConfigDict(extra="forbid")

    # Parameters that control the connection
    # Set by the owner of these settings (the judge's `judge: openai:MODEL`, eval's `model`) and
    # left out of dumps: a saved config then names the model in that one place only.
    model: str = Field("gpt-3.5-turbo", exclude=True, description="the model the requests name")
    base_url: str | None = Field(None, description="any OpenAI-compatible server (vLLM, Ollama, Azure)")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the key")
    timeout: float = Field(60.0, gt=0, description="seconds per request before it counts as failed")
    # Parameters that control the pace
    concurrency: int = Field(8, ge=1, description="requests in flight at once")
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    # Parameters that control retries
    max_retries: int = Field(6, ge=0, description="transport retries per request (429, 5xx, timeouts)")
    backoff_initial: float = Field(0.5, gt=0, description="seconds; doubles per retry, full jitter")
    backoff_max: float = Field(30.0, gt=0)
    max_malformed_retries: int = Field(2, ge=0, description="re-asks after an unreadable answer")
    reask_temperature: float = Field(
        0.7, gt=0, le=2, description="re-asks from the 2nd on sample at this temperature, seeded per round"
    )
    retry_failed: bool = Field(False, description="re-ask requests recorded as failed in the cache")
    # Parameters that control cost accounting
    prices: dict[str, Price] = Field(default_factory=dict, description="overrides DEFAULT_PRICES")

    def price(self) -> Price | None:
        return self.prices.get(self.model) or DEFAULT_PRICES.get(self.model)


class ChatRequest(BaseModel):
    """One chat-completions request. `key_extra` is part of the cache key but not sent."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[dict[str, str], ...]
    max_tokens: int | None = None
    temperature: float = 0.0
    logprobs: bool = False
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    key_extra: dict[str, Any] = Field(default_factory=dict)
    # What a re-ask adds after "Your answer could not be read (REASON).", and the parameters it
    # changes besides (e.g. more `top_logprobs`); neither is sent otherwise.
    reask_instruction: str = "Reply again, in exactly the format asked for."
    reask_params: dict[str, Any] = Field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.logprobs:
            out["logprobs"] = True
            if self.top_logprobs:
                out["top_logprobs"] = self.top_logprobs
        if self.response_format is not None:
            out["response_format"] = self.response_format
        if self.seed is not None:
            out["seed"] = self.seed
        return out


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


def cost_usd(usage: Usage, price: Price | None) -> float | None:
    if price is None:
        return None
    return (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6


@dataclass
class ChatResult:
    """What came back for one request: an answer (validated) or a failure with its reason."""

    key: str
    ok: bool
    content: str | None = None
    logprobs: list[dict[str, Any]] | None = None
    value: Any = None
    error: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    cached: bool = False
    attempts: int = 0
    malformed: list[str] = field(default_factory=list)
    malformed_reasons: list[str] = field(default_factory=list)
    reasks: int = 0  # re-asks sent to get this answer (0: the first answer was read)
    failure_kind: str | None = None  # malformed | timeout | connection | bad_body | http_<code>
    finish_reason: str | None = None


@dataclass
class RunTotals:
    """Counters for one client's lifetime: what was sent and paid now vs. served from the cache."""

    sent: int = 0
    retries: int = 0
    reasks: int = 0
    probes: int = 0
    answered: int = 0
    failed: int = 0
    cached: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    cached_cost_usd: float | None = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests_sent": self.sent,
            "retries": self.retries,
            "reasks": self.reasks,
            "probes": self.probes,
            "answered": self.answered,
            "failed": self.failed,
            "cached": self.cached,
            **self.usage.as_dict(),
            "cost_usd": self.cost_usd,
            "cached_cost_usd": self.cached_cost_usd,
        }


class MalformedAnswer(ValueError):
    """Raised by a validator: the answer arrived but cannot be read. Says why."""


class LLMFatalError(GorillaRlaifError):
    """An error every further request would repeat (bad key, no permission, unknown model)."""


class RequestShapeError(LLMFatalError):
    """The server refused the shape of our request (a parameter or value it does not accept).

    `param` names what it refused when the body says so (`response_format`, `logprobs`, ...), so
    the caller can name the setting that fixes it; `detail` is the server's message (redacted)."""

    def __init__(self, message: str, *, param: str | None, detail: str, status: int | None):
        super().__init__(message)
        self.param, self.detail, self.status = param, detail, status


class _Retryable(Exception):
    """A transport-level failure worth retrying (wraps garbage bodies the SDK accepted)."""


# ---- secrets --------------------------------------------------------------------------------------
def known_secrets(extra: Sequence[str | None] = ()) -> list[str]:
    values = [os.environ.get(name) for name in SECRET_ENV_VARS]
    return sorted({v for v in (*values, *extra) if v and len(v) >= 6 and v != NO_KEY}, key=len, reverse=True)


_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_-]{6,}|hf_[A-Za-z0-9]{6,})")


def redact(text: str, secrets: Sequence[str | None] = ()) -> str:
    """Remove credentials from a message we are about to keep or show."""
    for secret in known_secrets(secrets):
        text = text.replace(secret, "***")
    text = _BEARER.sub(r"\1***", text)
    return _KEYLIKE.sub("***", text)


def resolve_api_key(settings: LLMSettings) -> str:
    key = os.environ.get(settings.api_key_env)
    if key:
        return key
    if settings.base_url:
        log.info("no %s set: sending no key to %s", settings.api_key_env, settings.base_url)
        return NO_KEY
    raise ConfigError(
        f"the OpenAI API needs a key: set {settings.api_key_env} in the environment "
        "(or use --base-url for a local OpenAI-compatible server)"
    )


# ---- cache ----------------------------------------------------------------------------------------
class ResponseCache:
    """Answers and failures by request key, in SQLite, committed one by one as they arrive.

    WAL mode with `synchronous=NORMAL`: a commit survives the process being killed (it is in the
    OS's hands once `commit()` returns), and readers (a second process, a test) never block the
    writer. One connection per cache object; used from one thread (the event loop's).
    """

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS responses (
        key TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        model TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
        payload TEXT NOT NULL,
        error TEXT,
        created_at TEXT NOT NULL
    )
    """
    # What a server accepts (response formats, logprobs), negotiated once per run and server.
    CAPABILITIES_SCHEMA = """
    CREATE TABLE IF NOT EXISTS capabilities (
        server TEXT NOT NULL,
        model TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (server, model)
    )
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(self.SCHEMA)
            self._db.execute(self.CAPABILITIES_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a usable cache database ({exc})") from None

    def get(self, key: str) -> tuple[str, dict[str, Any], str | None] | None:
        row = self._db.execute(
            "SELECT status, payload, error FROM responses WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return row[0], json.loads(row[1]), row[2]

    def put(
        self, key: str, namespace: str, model: str, status: str, payload: dict[str, Any], error: str | None
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, namespace, model, status, json.dumps(payload, ensure_ascii=False), error, utc_now()),
        )

    def get_capabilities(self, server: str, model: str) -> dict[str, Any] | None:
        """What was negotiated with this server for this model, if it was (see the judge)."""
        row = self._db.execute(
            "SELECT data FROM capabilities WHERE server = ? AND model = ?", (server, model)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def put_capabilities(self, server: str, model: str, data: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO capabilities VALUES (?, ?, ?, ?)",
            (server, model, json.dumps(data, sort_keys=True), utc_now()),
        )

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM responses WHERE status = ?", (status,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- the client -----------------------------------------------------------------------------------
def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    return None


def _describe(exc: BaseException) -> str:
    import openai

    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {exc.__cause__ or exc}"
    return f"{type(exc).__name__}: {exc}"


def _failure_kind(exc: BaseException) -> str:
    """A short name for why a request failed: rows failing the same way trip the judge's breaker."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    if isinstance(exc, (openai.APITimeoutError, asyncio.TimeoutError)):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    return "bad_body"


# Parameters whose support differs between servers, in the order a refusal is blamed on them.
SHAPE_PARAMS = (
    "response_format",
    "json_schema",
    "top_logprobs",
    "logprobs",
    "seed",
    "max_tokens",
    "temperature",
)
# Words a server uses to say that a request is not shaped as it expects (pydantic/FastAPI
# validation in llama-cpp-python and vLLM, OpenAI's invalid_request_error, Ollama's "invalid ...").
_SHAPE_WORDS = re.compile(
    r"(?i)input should be|field required|extra inputs are not permitted|validation error|literal_error"
    r"|unrecognized request argument|not supported|unsupported|not allowed|is not one of|must be one of"
    r"|invalid (value|type|parameter|request|response_format|format)|unknown (field|parameter|argument)"
)
# ...but a request too long for the model is a problem of that row, not of the request's shape.
_ROW_WORDS = re.compile(r"(?i)context (length|window)|maximum context|too many tokens|prompt is too long")


def request_shape_param(status: int | None, message: str) -> str | None:
    """The parameter a refusal blames when the server says the request's shape is invalid
    ("request" when it names none), else None (a transient or per-row error).

    Status codes alone cannot tell: llama-cpp-python refuses `response_format: json_schema` with
    a 500 whose body is a pydantic validation error, while a 500 from vLLM under load is
    transient. So it is the body that decides: validation words, plus (for 5xx) the name of one of
    the parameters whose support varies between servers."""
    if status is None or status in (401, 403, 404, 408, 409, 429) or _ROW_WORDS.search(message):
        return None
    lowered = message.lower()
    param = next((p for p in SHAPE_PARAMS if p in lowered), None)
    if param == "json_schema":
        param = "response_format"
    if status in (400, 422):
        return param or ("request" if _SHAPE_WORDS.search(message) else None)
    if status >= 500 and param is not None and _SHAPE_WORDS.search(message):
        return param
    return None


Validator = Callable[[str, list[dict[str, Any]] | None], Any]
_WARNED_NO_PRICE: set[str] = set()  # models already warned about (once per process)


class LLMClient:
    """Send chat requests with the retries, pace, cache and accounting described above.

    Use inside a running event loop: `async with LLMClient(settings, cache) as client: ...`.
    """

    def __init__(
        self,
        settings: LLMSettings,
        cache: ResponseCache | None = None,
        *,
        namespace: str = "openai",
        api_key: str | None = None,
    ):
        self.settings = settings
        self.cache = cache
        self.namespace = namespace
        self._api_key = api_key or resolve_api_key(settings)
        self.totals = RunTotals()
        self._price = settings.price()
        if self._price is None:
            self.totals.cost_usd = self.totals.cached_cost_usd = None
        if self._price is None and settings.model not in _WARNED_NO_PRICE:
            _WARNED_NO_PRICE.add(settings.model)
            log.warning(
                "no price known for model %r: cost will be reported as unknown (set one with --price)",
                settings.model,
            )
        self._client = None
        self._sem: asyncio.Semaphore | None = None
        self._in_flight: dict[str, asyncio.Future[ChatResult]] = {}
        self._rpm = self._tpm = None

    async def __aenter__(self) -> LLMClient:
        import httpx2
        import openai
        from aiolimiter import AsyncLimiter

        limits = httpx2.Limits(
            max_connections=self.settings.concurrency + 4,
            max_keepalive_connections=self.settings.concurrency + 4,
        )
        self._client = openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(limits=limits, timeout=self.settings.timeout),
        )
        self._sem = asyncio.Semaphore(self.settings.concurrency)
        if self.settings.requests_per_minute:
            self._rpm = AsyncLimiter(self.settings.requests_per_minute, 60)
        if self.settings.tokens_per_minute:
            self._tpm = AsyncLimiter(self.settings.tokens_per_minute, 60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def redact(self, text: str) -> str:
        return redact(text, [self._api_key])

    def cache_key(self, request: ChatRequest) -> str:
        return stable_hash(
            {
                "namespace": self.namespace,
                "model": self.settings.model,
                "params": request.params(),
                "messages": list(request.messages),
                "extra": request.key_extra,
            },
            length=32,
        )

    def _cost(self, usage: Usage) -> float | None:
        return cost_usd(usage, self._price)

    # -- public API --------------------------------------------------------------------------
    async def chat_many(
        self,
        requests: Sequence[ChatRequest],
        validate: Validator | None = None,
        on_result: Callable[[int, ChatResult], None] | None = None,
    ) -> list[ChatResult]:
        """All requests, at most `concurrency` in flight; `on_result(i, result)` as each finishes."""

        async def one(i: int, request: ChatRequest) -> ChatResult:
            result = await self.chat(request, validate)
            if on_result is not None:
                on_result(i, result)
            return result

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    async def chat(self, request: ChatRequest, validate: Validator | None = None) -> ChatResult:
        """One request through cache, pace, retries and validation. Never raises for one bad
        answer; raises `LLMFatalError` (and its `RequestShapeError`) for what every request would hit.

        Identical requests in flight at the same time are sent once: two candidates with the same
        prompt and completion (different ids) ask the same questions, and without this both would
        miss the cache while the first answer is still on its way, and both would be paid for.
        """
        key = self.cache_key(request)
        while True:
            cached, previous = self._from_cache(key, validate)
            if cached is not None:
                return cached
            first = self._in_flight.get(key)
            if first is None:
                break
            try:
                result = await asyncio.shield(first)
            except asyncio.CancelledError:
                if first.cancelled():  # the task asking it was cancelled, not this one: ask again
                    continue
                raise
            if self.cache is None:
                return self._shared(result)
            # with a cache, the loop serves the stored answer (or re-asks a failure with retry_failed)
        assert self._sem is not None, "use `async with LLMClient(...)`"
        future: asyncio.Future[ChatResult] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            async with self._sem:
                result = await self._ask(key, request, validate, previous)
            self._store(result)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters re-raise it, asyncio need not warn
            raise
        else:
            future.set_result(result)
        finally:
            del self._in_flight[key]
        return result

    def _shared(self, result: ChatResult) -> ChatResult:
        """Another caller's answer to the same request (no cache to serve it from): not paid again."""
        self.totals.cached += 1
        if result.cost_usd is not None and self.totals.cached_cost_usd is not None:
            self.totals.cached_cost_usd += result.cost_usd
        return dataclasses.replace(result, cached=True, malformed=list(result.malformed))

    async def probe(self, request: ChatRequest) -> ChatResult:
        """Send one request as it is (pace and transport retries, no cache, no validation, no
        re-ask): what a server answers, to find out what it accepts. A refused request shape
        raises `RequestShapeError`; a transport failure comes back as a failed result."""
        assert self._sem is not None, "use `async with LLMClient(...)`"
        result = ChatResult(key=self.cache_key(request), ok=False)
        async with self._sem:
            self.totals.probes += 1
            messages = [dict(m) for m in request.messages]
            completion = await self._send_or_fail(messages, request.params(), request, result)
            if completion is not None:
                result.content, result.logprobs, result.finish_reason = _read_choice(completion)
                result.ok = True
        self._account(result)
        return result

    # -- internals ---------------------------------------------------------------------------
    def _from_cache(
        self, key: str, validate: Validator | None
    ) -> tuple[ChatResult | None, ChatResult | None]:
        """(the cached answer to use, a cached failure to continue from with `retry_failed`)."""
        if self.cache is None:
            return None, None
        hit = self.cache.get(key)
        if hit is None:
            return None, None
        status, payload, error = hit
        usage = Usage(**payload.get("usage", {}))
        result = ChatResult(
            key=key,
            ok=status == "ok",
            content=payload.get("content"),
            logprobs=payload.get("logprobs"),
            error=error,
            usage=usage,
            cost_usd=self._cost(usage),
            cached=True,
            attempts=payload.get("attempts", 0),
            malformed=payload.get("malformed", []),
            malformed_reasons=payload.get("malformed_reasons", []),
            reasks=payload.get("reasks", 0),
            failure_kind=payload.get("failure_kind"),
            finish_reason=payload.get("finish_reason"),
        )
        if status == "failed":
            if self.settings.retry_failed:
                return None, result
        elif validate is not None:
            try:
                result.value = validate(result.content or "", result.logprobs)
            except MalformedAnswer as exc:
                log.warning("cached answer %s no longer validates (%s): asking again", key, exc)
                return None, None
        self.totals.cached += 1
        if result.cost_usd is not None and self.totals.cached_cost_usd is not None:
            self.totals.cached_cost_usd += result.cost_usd
        return result, None

    def _store(self, result: ChatResult) -> None:
        if result.ok:
            self.totals.answered += 1
        else:
            self.totals.failed += 1
        if self.cache is None:
            return
        payload = {
            "content": result.content,
            "logprobs": result.logprobs,
            "usage": result.usage.as_dict(),
            "attempts": result.attempts,
            "malformed": result.malformed,
            "malformed_reasons": result.malformed_reasons,
            "reasks": result.reasks,
            "failure_kind": result.failure_kind,
            "finish_reason": result.finish_reason,
        }
        self.cache.put(
            result.key,
            self.namespace,
            self.settings.model,
            "ok" if result.ok else "failed",
            payload,
            result.error,
        )

    def _account(self, result: ChatResult) -> None:
        result.cost_usd = self._cost(result.usage)
        self.totals.usage.add(result.usage)
        if self.totals.cost_usd is not None and result.cost_usd is not None:
            self.totals.cost_usd += result.cost_usd

    def _round(
        self, key: str, request: ChatRequest, round_: int, result: ChatResult
    ) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """The request of re-ask round `round_` (0: the request itself). Every round differs from
        every other: round 1 adds what was wrong and the stricter instruction; rounds 2+ also
        sample at `reask_temperature` with a seed of their own."""
        messages = [dict(m) for m in request.messages]
        params = request.params()
        if round_ == 0:
            return messages, params
        messages += [
            {"role": "assistant", "content": result.malformed[-1]},
            {
                "role": "user",
                "content": f"Your answer could not be read ({result.malformed_reasons[-1]}). {request.reask_instruction}",
            },
        ]
        params.update(request.reask_params)
        if round_ >= 2:
            if request.temperature == 0:
                params["temperature"] = self.settings.reask_temperature
            params["seed"] = int(stable_hash({"key": key, "round": round_}, length=8), 16)
        return messages, params

    async def _ask(
        self, key: str, request: ChatRequest, validate: Validator | None, previous: ChatResult | None = None
    ) -> ChatResult:

        result = ChatResult(key=key, ok=False)
        if previous is not None:  # retry_failed: unreadable answers so far are kept, rounds go on
            result.malformed = list(previous.malformed)
            result.malformed_reasons = list(previous.malformed_reasons)
            del result.malformed[len(result.malformed_reasons) :]  # (caches written before reasons were kept)
            del result.malformed_reasons[len(result.malformed) :]
        first = len(result.malformed)
        sent: set[str] = set()
        for round_ in range(first, first + self.settings.max_malformed_retries + 1):
            messages, params = self._round(key, request, round_, result)
            fingerprint = stable_hash({"messages": messages, "params": params})
            if fingerprint in sent:  # cannot happen by construction; never pay twice for one answer
                break
            sent.add(fingerprint)
            if round_ > 0:
                result.reasks += 1
                self.totals.reasks += 1
            completion = await self._send_or_fail(messages, params, request, result)
            if completion is None:
                break
            content, logprobs, finish_reason = _read_choice(completion)
            result.finish_reason = finish_reason
            try:
                if content is None:
                    raise MalformedAnswer("empty answer (no message content)")
                value = validate(content, logprobs) if validate is not None else content
            except MalformedAnswer as exc:
                reason = str(exc)
                if finish_reason == "length" and (request.max_tokens or 0) > 1:
                    reason += f" (cut at max_tokens={request.max_tokens})"
                result.malformed.append(self.redact(content or ""))
                result.malformed_reasons.append(reason)
                result.error = self.redact(f"malformed answer after {round_ + 1} tries: {reason}")
                result.failure_kind = "malformed"
                continue
            result.ok, result.content, result.logprobs, result.value = True, content, logprobs, value
            result.error = result.failure_kind = None
            break
        self._account(result)
        return result

    async def _send_or_fail(
        self, messages: list[dict[str, str]], params: dict[str, Any], request: ChatRequest, result: ChatResult
    ) -> Any:
        """The completion, or None with the failure recorded on `result` once retries are spent."""
        import openai

        try:
            return await self._send(messages, params, request, result)
        except LLMFatalError:
            raise
        except (openai.APIError, _Retryable, asyncio.TimeoutError) as exc:
            result.error = self.redact(f"request failed after {result.attempts} attempt(s): {_describe(exc)}")
            result.failure_kind = _failure_kind(exc)
            return None

    async def _send(
        self, messages: list[dict[str, str]], params: dict[str, Any], request: ChatRequest, result: ChatResult
    ):
        import openai
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, openai.APIStatusError):
                return exc.status_code in (408, 409, 429) or exc.status_code >= 500
            return isinstance(exc, (openai.APIConnectionError, openai.APIResponseValidationError, _Retryable))

        def wait(state) -> float:
            # Full jitter (AWS's "exponential backoff and jitter"): uniform(0, min(max, base * 2^n)).
            ceiling = min(
                self.settings.backoff_max, self.settings.backoff_initial * 2 ** (state.attempt_number - 1)
            )
            delay = random.uniform(0, ceiling)
            after = _retry_after(state.outcome.exception()) if state.outcome else None
            if after is not None:
                delay = max(delay, after + random.uniform(0, 0.1 * after + 0.01))
            return delay

        def before_sleep(state) -> None:
            self.totals.retries += 1
            exc = state.outcome.exception()
            log.debug("retrying in %.2fs after %s", state.next_action.sleep, self.redact(_describe(exc)))

        server = self.settings.base_url or "OpenAI API"
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=wait,
            retry=retry_if_exception(retryable),
            before_sleep=before_sleep,
            reraise=True,
        ):
            with attempt:
                await self._pace(messages, request)
                result.attempts += 1
                self.totals.sent += 1
                try:
                    completion = await self._client.chat.completions.create(
                        model=self.settings.model, messages=messages, **_send_params(params)
                    )
                except (
                    openai.AuthenticationError,
                    openai.PermissionDeniedError,
                    openai.NotFoundError,
                ) as exc:
                    raise LLMFatalError(
                        self.redact(f"{server} refused the request: {_describe(exc)}")
                    ) from None
                except openai.APIStatusError as exc:
                    detail = self.redact(_status_text(exc))
                    param = request_shape_param(exc.status_code, detail)
                    if param is None:
                        raise
                    raise RequestShapeError(
                        f"{server} refused the shape of the request ({param}): HTTP {exc.status_code}: "
                        f"{detail[:300]}",
                        param=param,
                        detail=detail,
                        status=exc.status_code,
                    ) from None
                except (json.JSONDecodeError, ValidationError) as exc:
                    raise _Retryable(
                        f"response body is not a chat completion ({type(exc).__name__})"
                    ) from None
                if not hasattr(completion, "choices"):  # the SDK hands back text it could not parse
                    raise _Retryable(f"response is not a chat completion: {str(completion)[:120]!r}")
                usage = getattr(completion, "usage", None)
                if usage is not None:
                    result.usage.add(Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0))
                return completion
        raise AssertionError("unreachable")

    async def _pace(self, messages: list[dict[str, str]], request: ChatRequest) -> None:
        if self._rpm is not None:
            await self._rpm.acquire()
        if self._tpm is not None:
            estimate = sum(len(m.get("content") or "") for m in messages) // 4 + (request.max_tokens or 16)
            await self._tpm.acquire(min(estimate, self.settings.tokens_per_minute))


def _status_text(exc: Any) -> str:
    """The server's message and body of an HTTP error, as one string to read reasons from."""
    body = getattr(exc, "body", None)
    extra = json.dumps(body, ensure_ascii=False, default=str) if body not in (None, "") else ""
    return f"{exc.message} {extra}".strip() if extra and extra not in exc.message else exc.message


def _read_choice(completion: Any) -> tuple[str | None, list[dict[str, Any]] | None, str | None]:
    """(content, logprobs as plain dicts, finish_reason) of a completion's first choice."""
    choice = completion.choices[0] if completion.choices else None
    if choice is None:
        return None, None, None
    content = choice.message.content if choice.message else None
    logprobs = None
    if choice.logprobs is not None and choice.logprobs.content is not None:
        logprobs = [
            {
                "token": t.token,
                "logprob": t.logprob,
                "top_logprobs": [{"token": a.token, "logprob": a.logprob} for a in (t.top_logprobs or [])],
            }
            for t in choice.logprobs.content
        ]
    return content, logprobs, getattr(choice, "finish_reason", None)


def _send_params(params: dict[str, Any]) -> dict[str, Any]:
    """`response_format` goes out through `extra_body`, byte-for-byte the same JSON: the SDK's
    recursive type-driven transform of a JSON schema costs ~1.5 ms of CPU per request, a third of
    the client's time at concurrency 64 (profiled with benchmarks/bench_label.py)."""
    if "response_format" not in params:
        return params
    out = dict(params)
    out["extra_body"] = {"response_format": out.pop("response_format")}
    return out


def run_sync(coro) -> Any:
    """Run a coroutine from synchronous code (the CLI, a judge's batch call)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    raise GorillaRlaifError(
        "called from inside a running event loop (e.g. Jupyter): use the async API (`await judge.ajudge(...)`)"
    )

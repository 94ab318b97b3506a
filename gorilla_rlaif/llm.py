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
- Malformed answers (a validator raises `MalformedAnswer`) are re-asked as a continuation of the
  conversation that says what was wrong, up to `max_malformed_retries` times, then recorded as a
  failure with the reason and every unreadable answer. Never a silent None or a default value.
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


@dataclass
class RunTotals:
    """Counters for one client's lifetime: what was sent and paid now vs. served from the cache."""

    sent: int = 0
    retries: int = 0
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

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(self.SCHEMA)
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


Validator = Callable[[str, list[dict[str, Any]] | None], Any]


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
        """One request through cache, pace, retries and validation. Never raises for one bad answer.

        Identical requests in flight at the same time are sent once: two candidates with the same
        prompt and completion (different ids) ask the same questions, and without this both would
        miss the cache while the first answer is still on its way, and both would be paid for.
        """
        key = self.cache_key(request)
        while True:
            cached = self._from_cache(key, validate)
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
                result = await self._ask(key, request, validate)
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

    # -- internals ---------------------------------------------------------------------------
    def _from_cache(self, key: str, validate: Validator | None) -> ChatResult | None:
        if self.cache is None:
            return None
        hit = self.cache.get(key)
        if hit is None:
            return None
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
        )
        if status == "failed":
            if self.settings.retry_failed:
                return None
        elif validate is not None:
            try:
                result.value = validate(result.content or "", result.logprobs)
            except MalformedAnswer as exc:
                log.warning("cached answer %s no longer validates (%s): asking again", key, exc)
                return None
        self.totals.cached += 1
        if result.cost_usd is not None and self.totals.cached_cost_usd is not None:
            self.totals.cached_cost_usd += result.cost_usd
        return result

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
        }
        self.cache.put(
            result.key,
            self.namespace,
            self.settings.model,
            "ok" if result.ok else "failed",
            payload,
            result.error,
        )

    async def _ask(self, key: str, request: ChatRequest, validate: Validator | None) -> ChatResult:
        import openai

        result = ChatResult(key=key, ok=False)
        messages = [dict(m) for m in request.messages]
        params = request.params()
        for round_ in range(self.settings.max_malformed_retries + 1):
            try:
                completion = await self._send(messages, params, request, result)
            except LLMFatalError:
                raise
            except (openai.APIError, _Retryable, asyncio.TimeoutError) as exc:
                result.error = self.redact(
                    f"request failed after {result.attempts} attempt(s): {_describe(exc)}"
                )
                break
            choice = completion.choices[0] if completion.choices else None
            content = choice.message.content if choice is not None and choice.message else None
            logprobs = None
            if choice is not None and choice.logprobs is not None and choice.logprobs.content is not None:
                logprobs = [
                    {
                        "token": t.token,
                        "logprob": t.logprob,
                        "top_logprobs": [
                            {"token": a.token, "logprob": a.logprob} for a in (t.top_logprobs or [])
                        ],
                    }
                    for t in choice.logprobs.content
                ]
            try:
                if content is None:
                    raise MalformedAnswer("empty answer (no message content)")
                value = validate(content, logprobs) if validate is not None else content
            except MalformedAnswer as exc:
                reason = str(exc)
                result.malformed.append(self.redact(content or ""))
                result.error = self.redact(f"malformed answer after {round_ + 1} tries: {reason}")
                messages += [
                    {"role": "assistant", "content": content or ""},
                    {
                        "role": "user",
                        "content": f"Your answer could not be read ({reason}). Reply again, in exactly the format asked for.",
                    },
                ]
                continue
            result.ok, result.content, result.logprobs, result.value, result.error = (
                True,
                content,
                logprobs,
                value,
                None,
            )
            break
        result.cost_usd = self._cost(result.usage)
        self.totals.usage.add(result.usage)
        if self.totals.cost_usd is not None and result.cost_usd is not None:
            self.totals.cost_usd += result.cost_usd
        return result

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
                        self.redact(
                            f"{self.settings.base_url or 'OpenAI API'} refused the request: {_describe(exc)}"
                        )
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

"""The OpenAI client machinery against a real loopback HTTP server (gorilla_rlaif.testing)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.llm import (
    ChatRequest,
    LLMClient,
    LLMFatalError,
    LLMSettings,
    MalformedAnswer,
    Price,
    ResponseCache,
    redact,
    resolve_api_key,
)
from gorilla_rlaif.testing.openai_server import OpenAITestServer, hash_policy, request_key


def yes_no(content, logprobs):
    word = content.strip().lower()
    if word not in ("yes", "no"):
        raise MalformedAnswer(f"expected yes or no, got {content[:20]!r}")
    return word


def requests_for(n, prefix="question"):
    return [
        ChatRequest(
            messages=({"role": "user", "content": f"{prefix} {i}"},),
            max_tokens=1,
            logprobs=True,
            top_logprobs=2,
        )
        for i in range(n)
    ]


def settings(server, **kw):
    base = {"model": "gpt-4o-mini", "base_url": server.base_url, "backoff_initial": 0.01, "timeout": 2.0}
    return LLMSettings(**{**base, **kw})


def run(server, reqs, cache=None, **kw):
    async def go():
        async with LLMClient(settings(server, **kw), cache) as client:
            return await client.chat_many(reqs, yes_no), client.totals

    return asyncio.run(go())


@pytest.fixture
def server():
    with OpenAITestServer() as s:
        yield s


def test_answers_follow_the_server_policy_and_carry_probabilities(server):
    results, totals = run(server, requests_for(6))
    for i, r in enumerate(results):
        p = hash_policy(f"question {i}")
        assert r.ok and r.value == ("yes" if p >= 0.5 else "no")
        top = {a["token"]: a["logprob"] for a in r.logprobs[0]["top_logprobs"]}
        assert abs(2.718281828 ** top["yes"] - p) < 1e-3
    assert totals.sent == 6 and totals.answered == 6 and server.answered_total == 6
    # usage and cost: price of gpt-4o-mini applied to the server's token counts
    assert totals.usage.prompt_tokens > 0 and totals.usage.completion_tokens == 6
    expected = (totals.usage.prompt_tokens * 0.15 + totals.usage.completion_tokens * 0.60) / 1e6
    assert totals.cost_usd == pytest.approx(expected)


def test_retries_429_with_retry_after_500_garbage_and_hangs(server):
    server.inject("429", 2, retry_after=0.3)
    server.inject("500", 1)
    server.inject("garbage", 1)
    server.inject("hang", 1, match="question 3")
    start = time.perf_counter()
    results, totals = run(server, requests_for(5), timeout=0.5)
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in results), [r.error for r in results]
    assert server.statuses["429"] == 2 and server.statuses["500"] == 1 and server.statuses["garbage"] == 1
    assert server.statuses["hang"] == 1
    assert totals.retries == 5 and totals.sent == 10
    # Retry-After: 0.3 s was honoured for the request that got both 429s in a row (or two requests)
    assert elapsed >= 0.3
    assert max(r.attempts for r in results) >= 2


def test_exhausted_retries_are_recorded_failures_with_a_reason(server):
    server.inject("500", 100, match="question 1")
    results, totals = run(server, requests_for(3), max_retries=2)
    failed = results[1]
    assert not failed.ok and failed.value is None
    assert "after 3 attempt(s)" in failed.error and "HTTP 500" in failed.error
    assert results[0].ok and results[2].ok
    assert totals.failed == 1 and totals.answered == 2


def test_malformed_answers_are_reasked_then_failed_with_the_answers_kept(server):
    server.inject("malformed", 1, match="question 0")
    server.inject("malformed", 5, match="question 2")
    results, _ = run(server, requests_for(3), max_malformed_retries=2)
    assert results[0].ok and results[0].malformed == ["Maybe, it depends on the context."]
    # the re-ask is a continuation that says what was wrong
    assert results[1].ok and not results[1].malformed
    assert not results[2].ok
    assert results[2].error.startswith("malformed answer after 3 tries: expected yes or no")
    assert len(results[2].malformed) == 3


def test_cache_rerun_sends_nothing_and_retry_failed_reasks_only_failures(server, tmp_path):
    server.inject("malformed", 3, match="question 4")
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        first, _ = run(server, requests_for(6), cache, max_malformed_retries=2)
    assert [r.ok for r in first] == [True, True, True, True, False, True]
    sent_before = server.requests_total
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        again, totals = run(server, requests_for(6), cache)
        assert cache.count("ok") == 5 and cache.count("failed") == 1
    assert server.requests_total == sent_before and totals.sent == 0 and totals.cached == 6
    assert [r.value for r in again] == [r.value for r in first]
    assert again[4].error == first[4].error  # the failure is remembered, not silently retried
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        retried, totals = run(server, requests_for(6), cache, retry_failed=True)
    assert totals.sent == 1 and retried[4].ok
    # 5 good answers + 3 malformed ones (question 4 and its two corrective re-asks) + the retry
    assert server.answered_total == 9
    q4 = request_key({"model": "gpt-4o-mini", "messages": [dict(m) for m in requests_for(6)[4].messages]})
    assert server.answered[q4] == 2 and sorted(server.answered.values()).count(1) == 7


def test_cache_key_covers_model_and_extra_but_not_the_url(server, tmp_path):
    request = requests_for(1)[0]
    a = LLMClient(settings(server), api_key="x")
    b = LLMClient(settings(server, base_url="http://127.0.0.1:1/v1"), api_key="x")
    c = LLMClient(settings(server, model="gpt-4o"), api_key="x")
    assert a.cache_key(request) == b.cache_key(request)
    assert a.cache_key(request) != c.cache_key(request)
    other = request.model_copy(update={"key_extra": {"rubric_hash": "abc"}})
    assert a.cache_key(request) != a.cache_key(other)


def test_requests_per_minute_limit_paces_requests(server):
    # 120 rpm allows a burst of 120 then 2/s: 124 requests need >= ~1.5 s
    start = time.perf_counter()
    results, _ = run(
        server, requests_for(124), requests_per_minute=120, tokens_per_minute=10**6, concurrency=16
    )
    assert all(r.ok for r in results)
    assert time.perf_counter() - start >= 1.4


def test_concurrency_is_bounded(server):
    server.latency = 0.05
    run(server, requests_for(24), concurrency=4)
    assert server.max_in_flight <= 4
    server.reset_counts()
    run(server, requests_for(24), concurrency=12)
    assert 8 <= server.max_in_flight <= 12


def test_authentication_errors_stop_the_run_without_leaking_the_key(server, monkeypatch, caplog):
    secret = "sk-test-SECRET-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    server.inject("echo_auth", 1)

    async def go():
        async with LLMClient(settings(server, max_retries=0)) as client:
            return await client.chat(requests_for(1)[0], yes_no)

    with caplog.at_level(logging.DEBUG):
        result = asyncio.run(go())
    assert not result.ok and "HTTP 500" in result.error
    assert secret not in result.error and "***" in result.error
    assert secret not in caplog.text

    class Unauthorized(OpenAITestServer):
        def _respond(self, handler, body, key, text):
            handler._send_json(401, {"error": {"message": f"Incorrect API key provided: {secret}"}})

    with Unauthorized() as bad, pytest.raises(LLMFatalError) as info:
        run(bad, requests_for(1))
    assert "HTTP 401" in str(info.value) and secret not in str(info.value)


def test_api_key_resolution_and_redaction(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        resolve_api_key(LLMSettings())
    assert resolve_api_key(LLMSettings(base_url="http://localhost:8000/v1")) == "no-key-needed"
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    text = redact("token hf_abcdefghijklmnop and Bearer sk-zzzzzzzzzzzz and sk-proj-123456789")
    assert "hf_abc" not in text and "sk-zzz" not in text and "sk-proj" not in text


def test_unknown_model_price_is_unknown_not_zero(server):
    results, totals = run(server, requests_for(2), model="my-local-model")
    assert results[0].cost_usd is None and totals.cost_usd is None
    results, totals = run(
        server, requests_for(2), model="my-local-model", prices={"my-local-model": Price(input=1, output=2)}
    )
    assert totals.cost_usd == pytest.approx(
        (totals.usage.prompt_tokens + 2 * totals.usage.completion_tokens) / 1e6
    )


def test_server_counts_requests_by_content():
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert request_key(body) == request_key(dict(body))
    assert request_key(body) != request_key({**body, "model": "n"})


@pytest.mark.parametrize("with_cache", [False, True])
def test_identical_requests_in_flight_together_are_sent_once(server, tmp_path, with_cache):
    """Duplicates among requests in flight at once (two candidates with the same text) are asked
    once; the copies are served as cached (nothing spent twice), with or without a cache."""
    reqs = requests_for(6)
    reqs = [*reqs, reqs[0], reqs[3], reqs[0]]
    server.latency = 0.2  # every request is still in flight when its duplicate arrives
    cache = ResponseCache(tmp_path / "c.sqlite") if with_cache else None
    results, totals = run(server, reqs, cache, concurrency=16)
    assert server.requests_total == 6 and max(server.answered.values()) == 1
    assert [r.value for r in results[6:]] == [results[0].value, results[3].value, results[0].value]
    assert [r.cached for r in results].count(True) == 3 and totals.sent == 6 and totals.cached == 3

"""The remote backend: snippets run on a `gorilla-bench serve` elsewhere (`SandboxConfig(backend=
"remote", url=...)`), so `exec`, `eval` and the GRPO execution reward can use a sandbox that is
not on the machine that calls it.

A batch is cut into requests of `remote_batch` snippets, `workers` of them in flight; each
request streams one result row per line as the server finishes them. A lost connection, a 429
(after its Retry-After) or a 5xx is tried again with the snippets that have no row yet, under the
same client id: the server remembers each snippet by (client id, snippet id, input), so a
retried snippet attaches to the run already in flight or gets its stored row. No snippet is lost
and none runs twice. Retries are tenacity's (exponential back-off, or the server's Retry-After).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import ssl
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gorilla_rlaif.harness.backends.base import BatchBackend, SandboxUnavailable
from gorilla_rlaif.harness.config import SandboxConfig
from gorilla_rlaif.harness.schema import ExecResult, Snippet

log = logging.getLogger(__name__)

TOKEN_ENV = "GORILLA_SANDBOX_TOKEN"
BATCH_PATH = "/v1/batch"  # gorilla_rlaif.harness.server.BATCH_PATH (not imported: no FastAPI here)
# The server sends a blank line every 10 s while no result is ready: a silence 4x longer is a dead
# connection, tried again.
READ_TIMEOUT_S = 40.0


class _TryAgain(Exception):
    """A failure worth another try (connection lost, 429, 5xx, a stream cut short)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def client_token(config: SandboxConfig) -> str | None:
    if config.token_file is not None:
        try:
            return Path(config.token_file).read_text().strip()
        except OSError as exc:
            raise SandboxUnavailable(f"token_file {config.token_file}: {exc.strerror or exc}") from None
    return os.environ.get(TOKEN_ENV) or None


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs ~40 ms, more than a snippet."""
    return ssl.create_default_context()


def _http(config: SandboxConfig) -> Any:
    import httpx2

    token = client_token(config)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.Client(
        base_url=config.url.rstrip("/"),
        headers=headers,
        verify=_tls(),
        timeout=httpx2.Timeout(30.0, read=READ_TIMEOUT_S),
        limits=httpx2.Limits(max_connections=max(config.workers, 1) + 2),
    )


def _retrying(config: SandboxConfig) -> Any:
    """tenacity's loop: `retries` more tries, waiting the server's Retry-After or backing off."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    backoff = wait_exponential(multiplier=0.5, min=0.5, max=15)

    def wait(state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _TryAgain) and exc.retry_after is not None:
            return exc.retry_after
        return backoff(state)

    return Retrying(
        stop=stop_after_attempt(config.retries + 1),
        wait=wait,
        retry=retry_if_exception_type(_TryAgain),
        reraise=True,
    )


def _reason(response: Any) -> str:
    try:
        detail = response.json().get("detail")
    except Exception:
        detail = response.text[:300]
    if isinstance(detail, list):  # a validation error: FastAPI's list of problems
        detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
    return str(detail)


def _raise_for(response: Any, url: str) -> None:
    code = response.status_code
    if code < 400:
        return
    if code == 429 or code >= 500:
        after = response.headers.get("retry-after")
        raise _TryAgain(
            f"HTTP {code} from {url}: {_reason(response)}",
            retry_after=float(after) if after and after.replace(".", "", 1).isdigit() else None,
        )
    raise SandboxUnavailable(
        f"the sandbox server at {url} refused the request (HTTP {code}): {_reason(response)}"
    )


def server_health(config: SandboxConfig) -> dict:
    """`GET /health` of the server, tried `retries` times; SandboxUnavailable if it never answers."""
    import httpx2

    with _http(config) as http:
        try:
            for attempt in _retrying(config):
                with attempt:
                    try:
                        response = http.get("/health")
                    except httpx2.TransportError as exc:
                        raise _TryAgain(f"{type(exc).__name__}: {exc}") from None
                    _raise_for(response, config.url)
                    return response.json()
        except _TryAgain as exc:
            raise SandboxUnavailable(
                f"no sandbox server answers at {config.url} ({exc}); start one with `gorilla-bench serve` "
                "or fix url"
            ) from None
    raise AssertionError("unreachable")


def server_identity(config: SandboxConfig) -> str:
    """The server's sandbox hash: what keys this client's stored rows (with its own limits)."""
    return str(server_health(config).get("sandbox_hash"))


class RemoteBackend(BatchBackend):
    name = "remote"

    def __init__(self, config: SandboxConfig):
        super().__init__(config)
        self.client_id = uuid.uuid4().hex  # one per run: the server keys retried snippets by it
        self.stats = {"remote_retries": 0}

    def check(self) -> None:
        health = server_health(self.config)
        limits = health.get("limits", {})
        for key, unit in (("timeout_s", "s"), ("memory_mb", "MB")):
            asked, allowed = getattr(self.config, key), limits.get(key)
            if allowed is not None and asked > allowed:
                raise SandboxUnavailable(
                    f"{key}={asked} {unit} exceeds what the server at {self.config.url} allows ({allowed} {unit}); "
                    f"ask for at most {allowed}"
                )
        self.max_snippets = int(limits.get("max_snippets", self.config.remote_batch))

    def run(self, snippets: list[Snippet]) -> Iterator[ExecResult]:
        config = self.config
        limited = [
            s.model_copy(
                update={
                    "timeout_s": min(s.timeout_s or config.timeout_s, config.timeout_s),
                    "memory_mb": min(s.memory_mb or config.memory_mb, config.memory_mb),
                }
            )
            for s in snippets
        ]
        size = max(1, min(config.remote_batch, getattr(self, "max_snippets", config.remote_batch)))
        chunks = [limited[i : i + size] for i in range(0, len(limited), size)]
        out: queue.Queue = queue.Queue()
        todo: queue.Queue = queue.Queue()
        for chunk in chunks:
            todo.put(chunk)
        stop = threading.Event()
        http = _http(config)

        def sender() -> None:
            while not stop.is_set():
                try:
                    chunk = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    self._send(http, chunk, out, stop)
                except BaseException as exc:
                    out.put(exc)
                    return

        threads = [
            threading.Thread(target=sender, daemon=True) for _ in range(min(config.workers, len(chunks)))
        ]
        for thread in threads:
            thread.start()
        received = 0
        try:
            while received < len(snippets):
                item = out.get()
                if isinstance(item, BaseException):
                    raise item
                received += 1
                yield item
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=READ_TIMEOUT_S)
            http.close()

    def _send(self, http: Any, chunk: list[Snippet], out: queue.Queue, stop: threading.Event) -> None:
        """One request's snippets, tried again (only those without a row) until all have one."""
        import httpx2

        remaining = {s.id: s for s in chunk}
        try:
            for attempt in _retrying(self.config):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.stats["remote_retries"] += 1
                    body = {
                        "client_id": self.client_id,
                        "snippets": [s.model_dump() for s in remaining.values()],
                    }
                    try:
                        with http.stream("POST", BATCH_PATH, json=body) as response:
                            if response.status_code >= 400:
                                response.read()
                            _raise_for(response, self.config.url)
                            for line in response.iter_lines():
                                if stop.is_set():
                                    return
                                if not line.strip():
                                    continue  # a heartbeat
                                result = ExecResult.model_validate(json.loads(line))
                                if remaining.pop(result.id, None) is not None:
                                    out.put(result)
                    except httpx2.TransportError as exc:
                        raise _TryAgain(f"{type(exc).__name__}: {exc}") from None
                    if remaining:
                        raise _TryAgain(f"the stream ended with {len(remaining)} snippets unanswered")
        except _TryAgain as exc:
            raise SandboxUnavailable(
                f"the sandbox server at {self.config.url} failed {self.config.retries + 1} times ({exc}); "
                "finished results are saved: re-run to resume"
            ) from None

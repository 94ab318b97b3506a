"""`gorilla-bench serve`: the harness behind HTTP, for trainers and evals on other machines.

The server is FastAPI on uvicorn over one long-lived `SandboxPool` (the same `WorkerPool`s and
preloaded fork-server workers `run_snippets` uses, kept warm between requests). Endpoints:

- `POST /run_code`: SandboxFusion's request and response (`code`, `language: "python"`,
  `run_timeout`, `memory_limit_MB`, `stdin`, `files`, `fetch_files` -> `status` Success / Failed /
  SandboxError, `run_result` {status Finished / TimeLimitExceeded / Error, ...}), so a verl or
  Tinker user points their sandbox URL here unchanged.
- `POST /v1/batch`: our own; `{"client_id", "snippets": [Snippet, ...]}` answers one `ExecResult`
  row per line (NDJSON) as each finishes, with our status taxonomy. A snippet is remembered by
  (client_id, id, input digest): a retried request attaches to the run already in flight or gets
  the stored row, so a dropped connection loses nothing and runs nothing twice. Blank lines are
  heartbeats (a connection that stays silent longer is dead).
- `GET /health` (no token: for load balancers and Kubernetes probes), `GET /metrics`
  (Prometheus text: snippets by status, queue depth, worker restarts, rejected requests).

It runs arbitrary code for whoever reaches it: it binds to 127.0.0.1 unless told otherwise and
refuses to bind elsewhere without a bearer token; it refuses a sandbox without isolation or with
a shared writable download cache (`network`); a request body is capped (Content-Length required),
as are the snippets per request and the snippets queued (429 + Retry-After past that). Each
snippet runs in a fresh fork whose scratch directories are wiped before the worker takes the next
one, so one client's snippet never sees another's files.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations, some of them
# classes imported inside `create_app`, as objects

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import socket
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gorilla_rlaif.config import operational
from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.harness.config import SandboxConfig
from gorilla_rlaif.harness.schema import ExecResult, Snippet, Status

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # a blank line on a batch stream this often while no result is ready
BATCH_PATH = "/v1/batch"


class ServeConfig(BaseModel):
    """`gorilla-bench serve`: where it listens, who may call it, how much it accepts, the sandbox."""

    model_config = ConfigDict(extra="forbid")

    # Parameters that control who can reach the server
    host: str = operational(
        "127.0.0.1", description="address to bind; anything but loopback needs --token-file"
    )
    port: int = operational(8080, ge=0, le=65535, description="port (0: any free port, printed at start)")
    token_file: Path | None = operational(
        None, description="file holding the bearer token clients must send (required off loopback)"
    )
    # Parameters that control how much the server accepts
    max_request_mb: float = operational(16.0, gt=0, description="largest request body, MB")
    max_snippets: int = operational(256, ge=1, description="snippets in one batch request")
    max_pending: int = operational(
        1024, ge=1, description="snippets queued or running at once; beyond it requests get 429"
    )
    remember: int = operational(
        100_000, ge=0, description="finished batch rows kept for retried requests (idempotency)"
    )
    warm: bool = operational(True, description="start every sandbox worker before accepting requests")
    # Parameters that control the sandbox
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)

    @model_validator(mode="after")
    def _check(self) -> "ServeConfig":
        if self.sandbox.backend not in ("local", "docker"):
            raise ConfigError(
                f"serve runs snippets on this machine: --backend local or docker (not {self.sandbox.backend})"
            )
        if self.sandbox.network:
            raise ConfigError(
                "serve runs code for many clients: with --network the download cache is shared and "
                "writable, so one client's snippet could read another's files; serve without --network"
            )
        if self.token_file is None and not is_loopback(self.host):
            raise ConfigError(
                f"--host {self.host} is reachable from other machines: give --token-file FILE "
                "(a secret clients send as 'Authorization: Bearer ...'), or bind to 127.0.0.1"
            )
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"--token-file {path}: {exc.strerror or exc}") from None
    if len(token) < 16:
        raise ConfigError(f"--token-file {path}: the token must be at least 16 characters")
    return token


def input_digest(snippet: Snippet) -> str:
    return hashlib.sha256(snippet.model_dump_json(exclude={"id"}).encode()).hexdigest()


class Remembered:
    """(client, snippet id) -> (input digest, future): what makes a retried batch idempotent.
    Bounded: the oldest finished entries go first."""

    def __init__(self, limit: int):
        self.limit = limit
        self.entries: OrderedDict[tuple[str, str], tuple[str, Future]] = OrderedDict()
        self.lock = threading.Lock()

    def lookup(self, key: tuple[str, str], digest: str) -> Future | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None and entry[0] == digest:
                return entry[1]
        return None

    def store(self, key: tuple[str, str], digest: str, future: Future) -> None:
        with self.lock:
            self.entries[key] = (digest, future)
            self.entries.move_to_end(key)
            excess = len(self.entries) - self.limit
            for old in list(self.entries)[: max(excess, 0)]:
                if self.entries[old][1].done():
                    del self.entries[old]


class Service:
    """The state behind the endpoints: the pool, the remembered rows, the counters."""

    def __init__(self, config: ServeConfig, pool: Any, token: str | None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.core import CounterMetricFamily

        self.config = config
        self.pool = pool
        self.token = token
        self.identity = ""  # the sandbox's hash (`run.sandbox_hash`), reported by /health
        self.remembered = Remembered(config.remember)
        self.submit_lock = threading.Lock()
        self.mean_s = 1.0  # running mean of a snippet's duration, for Retry-After
        self.registry = CollectorRegistry()
        self.snippets = Counter(
            "gorilla_sandbox_snippets", "Snippets run, by status", ["status"], registry=self.registry
        )
        for status in Status:
            self.snippets.labels(status.value)
        self.rejected = Counter(
            "gorilla_sandbox_rejected_requests",
            "Requests refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "gorilla_sandbox_snippet_seconds",
            "Wall time of a snippet in the sandbox",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        queue = Gauge("gorilla_sandbox_queue_depth", "Snippets queued or running", registry=self.registry)
        queue.set_function(lambda: pool.pending)

        class Restarts:
            def collect(self_inner):
                yield CounterMetricFamily(
                    "gorilla_sandbox_worker_restarts", "Sandbox workers replaced", value=pool.restarts
                )

        self.registry.register(Restarts())

    def counted(self, future: Future) -> Future:
        def done(f: Future) -> None:
            if f.cancelled() or f.exception() is not None:
                return
            result: ExecResult = f.result()
            self.snippets.labels(result.status.value).inc()
            self.seconds.observe(result.duration_s)
            self.mean_s = 0.9 * self.mean_s + 0.1 * max(result.duration_s, 0.001)

        future.add_done_callback(done)
        return future

    def retry_after(self) -> int:
        workers = self.config.sandbox.workers
        return max(1, min(60, math.ceil(self.pool.pending / workers * self.mean_s)))

    def submit(self, snippets: list[Snippet], client: str | None) -> list[Future] | None:
        """Futures for `snippets` (remembered ones reused), or None when the queue is full."""
        with self.submit_lock:
            plan: list[tuple[Snippet, str, Future | None]] = []
            for snippet in snippets:
                digest = input_digest(snippet)
                known = self.remembered.lookup((client, snippet.id), digest) if client else None
                plan.append((snippet, digest, known))
            new = sum(1 for *_, known in plan if known is None)
            if new and self.pool.pending + new > self.config.max_pending:
                return None
            futures = []
            for snippet, digest, known in plan:
                if known is None:
                    known = self.counted(self.pool.submit(snippet))
                    if client:
                        self.remembered.store((client, snippet.id), digest, known)
                futures.append(known)
            return futures


# ---- request and response models ------------------------------------------------------------------
class RunCodeRequest(BaseModel):
    """SandboxFusion's `POST /run_code` request (the fields a Python run uses)."""

    code: str
    language: str = "python"
    compile_timeout: float | None = None  # accepted, unused: Python has no compile step
    run_timeout: float | None = Field(None, description="seconds; default the server's limit")
    memory_limit_MB: int | None = Field(None, description="MB; -1 or absent: the server's limit")
    stdin: str | None = None
    files: dict[str, str | None] = Field(default_factory=dict, description="{path: base64}")
    fetch_files: list[str] = Field(default_factory=list)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=8, max_length=128, description="one per client run: keys retries")
    snippets: list[Snippet] = Field(min_length=1)


def sandboxfusion_response(result: ExecResult, pod: str) -> dict[str, Any]:
    """Our result in SandboxFusion's shape: Success = exit 0; Failed = the code failed (non-zero
    exit, an exception, a limit); SandboxError = the sandbox itself failed."""
    if result.status is Status.sandbox_error:
        status, run_status = "SandboxError", "Error"
    elif result.status is Status.ok:
        status, run_status = "Success", "Finished"
    else:
        status = "Failed"
        run_status = "TimeLimitExceeded" if result.status is Status.timeout else "Finished"
    stderr = result.stderr
    if result.traceback and result.traceback not in stderr:  # as `python file.py` would print it
        stderr = stderr + ("\n" if stderr and not stderr.endswith("\n") else "") + result.traceback
    message = (
        ""
        if result.status is Status.ok
        else f"{result.status.value}: {result.error_type}: {result.error_message}"
    )
    return {
        "status": status,
        "message": message,
        "compile_result": None,
        "run_result": {
            "status": run_status,
            "execution_time": result.duration_s,
            "return_code": result.exit_code,
            "stdout": result.stdout,
            "stderr": stderr,
        },
        "executor_pod_name": pod,
        "files": result.files or {},
    }


class BodyLimit:
    """Refuses request bodies over `limit` bytes (413) and bodies without a Content-Length (411)
    before the application reads them. Why here: neither uvicorn nor Starlette has a body-size
    limit (uvicorn's limits are on headers and concurrency)."""

    def __init__(self, app: Any, limit: int, on_reject: Any):
        self.app, self.limit, self.on_reject = app, limit, on_reject

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            reason = None
            if length is None:
                status, reason = 411, "send the body with a Content-Length (chunked bodies are refused)"
            elif not length.isdigit() or int(length) > self.limit:
                status = 413
                reason = f"request body of {length.decode()} bytes exceeds the server's {self.limit} (max_request_mb)"
            if reason is not None:
                self.on_reject("too_large" if status == 413 else "no_length")
                body = json.dumps({"detail": reason}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def create_app(service: "Service") -> Any:
    """The ASGI application (FastAPI inside the body-size guard)."""
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from prometheus_client import generate_latest

    from gorilla_rlaif import __version__

    config = service.config
    pod = socket.gethostname()
    app = FastAPI(title="gorilla-rlaif sandbox", version=__version__)

    def authorize(request: Request) -> None:
        if service.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), service.token.encode()
        ):
            service.rejected.labels("unauthorized").inc()
            raise HTTPException(
                401,
                "missing or wrong bearer token (Authorization: Bearer ...)",
                {"WWW-Authenticate": "Bearer"},
            )

    def check_limits(snippets: list[Snippet]) -> None:
        sandbox = config.sandbox
        for snippet in snippets:
            if snippet.timeout_s is not None and snippet.timeout_s > sandbox.timeout_s:
                raise HTTPException(
                    400,
                    f"snippet {snippet.id}: timeout {snippet.timeout_s} s exceeds this server's {sandbox.timeout_s} s",
                )
            if snippet.memory_mb is not None and snippet.memory_mb > sandbox.memory_mb:
                raise HTTPException(
                    400,
                    f"snippet {snippet.id}: memory {snippet.memory_mb} MB exceeds this server's {sandbox.memory_mb} MB",
                )

    async def submit(snippets: list[Snippet], client: str | None) -> list[Future]:
        check_limits(snippets)
        # off the event loop: the first snippet of a kind opens that kind's workers
        futures = await asyncio.to_thread(service.submit, snippets, client)
        if futures is None:
            service.rejected.labels("queue_full").inc()
            raise HTTPException(
                429,
                f"the queue is full ({service.pool.pending} snippets queued or running, max_pending "
                f"{config.max_pending}); retry later",
                {"Retry-After": str(service.retry_after())},
            )
        return futures

    @app.get("/health")
    def health() -> dict[str, Any]:
        sandbox = config.sandbox
        return {
            "status": "ok",
            "version": __version__,
            "backend": sandbox.backend,
            "workers": sandbox.workers,
            "pending": service.pool.pending,
            "sandbox_hash": service.identity,
            "limits": {
                "timeout_s": sandbox.timeout_s,
                "memory_mb": sandbox.memory_mb,
                "max_snippets": config.max_snippets,
                "max_request_mb": config.max_request_mb,
                "max_pending": config.max_pending,
            },
        }

    @app.get("/metrics", dependencies=[Depends(authorize)])
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(service.registry), media_type="text/plain; version=0.0.4")

    @app.post("/run_code", dependencies=[Depends(authorize)])
    async def run_code(request: RunCodeRequest) -> JSONResponse:
        if request.language.lower() not in ("python", "python3"):
            raise HTTPException(
                400, f"language {request.language!r} is not supported: this sandbox runs python"
            )
        try:
            snippet = Snippet(
                id=f"run-code-{uuid.uuid4().hex}",
                code=request.code,
                stdin=request.stdin or "",
                files={path: data or "" for path, data in request.files.items()},
                fetch_files=request.fetch_files,
                timeout_s=request.run_timeout,
                memory_mb=request.memory_limit_MB
                if request.memory_limit_MB is not None and request.memory_limit_MB > 0
                else None,
            )
        except ValueError as exc:
            raise HTTPException(400, _one_line(exc)) from None
        (future,) = await submit([snippet], None)
        result = await asyncio.wrap_future(future)
        return JSONResponse(sandboxfusion_response(result, pod))

    @app.post(BATCH_PATH, dependencies=[Depends(authorize)])
    async def batch(request: BatchRequest) -> StreamingResponse:
        if len(request.snippets) > config.max_snippets:
            service.rejected.labels("too_many_snippets").inc()
            raise HTTPException(
                413,
                f"{len(request.snippets)} snippets in one request; this server takes at most {config.max_snippets}",
            )
        ids = [s.id for s in request.snippets]
        if len(set(ids)) != len(ids):
            raise HTTPException(400, "duplicate snippet ids in one request")
        futures = await submit(request.snippets, request.client_id)

        async def rows():
            waiting = {asyncio.wrap_future(f) for f in futures}
            while waiting:
                done, waiting = await asyncio.wait(
                    waiting, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    yield b"\n"
                for task in done:
                    yield (task.result().model_dump_json() + "\n").encode()

        return StreamingResponse(rows(), media_type="application/x-ndjson")

    return BodyLimit(
        app, int(config.max_request_mb * (1 << 20)), lambda reason: service.rejected.labels(reason).inc()
    )


def _one_line(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        from gorilla_rlaif.config import describe_errors

        return describe_errors(exc)
    return " ".join(str(exc).split())


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket. Made with proto=IPPROTO_TCP on purpose: asyncio turns Nagle off
    (TCP_NODELAY) only on sockets whose proto says TCP, and `socket.create_server` leaves it 0;
    with Nagle on, every response waits ~40 ms on the client's delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def serve(config: ServeConfig, *, announce: Any = print) -> None:
    """Start the pool (warm), bind, serve until SIGINT/SIGTERM, close the pool."""
    import uvicorn

    from gorilla_rlaif.harness.backends import SandboxUnavailable, load_backend
    from gorilla_rlaif.harness.run import SandboxPool, sandbox_hash

    token = read_token(config.token_file)
    probe = load_backend(config.sandbox)
    try:
        probe.check()
        if not probe.isolated():
            raise SandboxUnavailable(
                "serve refuses a sandbox without isolation (the local backend needs bubblewrap: "
                "apt-get install bubblewrap), or use --backend docker"
            )
    finally:
        probe.close()
    pool = SandboxPool(config.sandbox)
    service = Service(config, pool, token)
    service.identity = sandbox_hash(config.sandbox)
    try:
        if config.warm:
            start = time.monotonic()
            warm = [Snippet(id=f"warm-{i}", code="pass") for i in range(config.sandbox.workers)]
            for future in [pool.submit(s) for s in warm]:
                future.result()
            log.info("%d workers warm in %.1f s", len(warm), time.monotonic() - start)
        sock = _bind(config.host, config.port)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(service),
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=5,
                backlog=2048,
            )
        )
        announce(
            f"serving the {config.sandbox.backend} sandbox on http://{shown}:{port} ({config.sandbox.workers} workers)"
        )
        server.run(sockets=[sock])
    finally:
        pool.close()


__all__ = ["BATCH_PATH", "ServeConfig", "create_app", "sandboxfusion_response", "serve"]

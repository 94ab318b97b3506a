"""A real OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

Not a mock: clients talk to it over real HTTP/1.1 with keep-alive, through the real `openai` SDK,
so connection handling, timeouts, status codes and retries run exactly as against a provider.
What it answers is a deterministic function of the request, so tests can assert numbers:

- per-question requests (no `response_format`): the answer is "yes" when `policy(text) >= 0.5`,
  where `text` is the first user message (so a corrective re-ask gets the same answer); with `logprobs=true` the answer token carries
  `top_logprobs` for "yes" (log p) and "no" (log 1-p).
- rubric requests (`response_format` of type `json_schema`): a JSON object with one "yes"/"no"
  per property of the schema, each decided by `policy(property + "\\n" + text)`; with
  `logprobs=true` the value tokens carry `top_logprobs` the same way.

Faults are injected per request, in order, optionally only for requests whose messages contain
a substring: `429` (with `Retry-After`), `500`, `hang` (holds the request past the client's
timeout), `garbage` (a 200 whose body is not JSON), `malformed` (a valid completion whose answer
is unreadable), `echo_auth` (a 500 whose body echoes the Authorization header, to test that
credentials never leak into our rows and logs). `latency` adds a fixed delay to every request, `latency_per_token` one per `max_tokens` (a free-text
request, with no response format and no rubric, is answered with `max_tokens` tokens of counting,
as a model that writes until the limit).

Server profiles (`profile=`, a `ServerProfile` or one of the names in `PROFILES`) reproduce how
real OpenAI-compatible servers differ, each behaviour on its own or together:

- `openai` (default): `json_schema` enforced; `json_object` (with or without a `schema`) answers
  the rubric keys the prompt lists; logprobs as above.
- `rejects-json-schema`: llama-cpp-python's server (0.3.x): `response_format.type = json_schema`
  is refused with HTTP 500 and the pydantic validation body it sends; `json_object` + `schema`
  is enforced; plain `json_object` makes the model invent keys of its own.
- `marker-top-token`: a small model that copies the `<<<domain>>>` markers it was shown: the top
  token of a one-token answer is `<<`, with yes and no further down the `top_logprobs` (their
  mass split by the policy; a side can fall out of the top k); a re-ask carrying a stricter
  instruction ("exactly one word") gets a plain yes/no.
- `one-at-a-time`: requests are answered strictly one after another (llama-cpp-python's server
  holds a lock around its one model); the others wait in line.
- `no-logprobs` / `refuses-logprobs`: `logprobs` is ignored (no logprobs in the answer) / refused
  with HTTP 400 naming the parameter.
- `llama-cpp-python`: all three together, as the issue's run met them.

`FaultMix` is a provider having a bad day, decided per request body: each attempt at a body
draws, from a seeded hash of (seed, body, attempt), a 429 with `Retry-After`, a 500, a hang that
ends in a dropped connection, or a garbage 200 (truncated JSON, HTML, an empty body, binary
bytes), at most `max_faults_per_body` times per body; then it is answered. `FLAKY_PROVIDER` is
the mix labeling was tested under (15% 429, 10% 500, 3% 8-second hangs, 5% garbage, <= 3 faults
per body, 30 ms latency). Being a function of the body, not of arrival order, the same mix hits
the same requests however many are in flight.

Counting: `answered[key]` counts answers actually delivered per request content (`request_key`),
`bodies[hash]` per whole request body (parameters too), `received[key]` every request. An answer is only counted once the client is known to be still
connected (a request held by `pause_after` whose client died is counted in `abandoned`).

A `ThreadingHTTPServer` needs a large `request_queue_size` and `disable_nagle_algorithm` (both
measured), or the server, not the client, sets the pace of a benchmark.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import select
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

FAULT_KINDS = ("429", "500", "hang", "garbage", "malformed", "echo_auth")
# Bodies of a garbage 200, by kind: what a misbehaving proxy or provider sends back.
GARBAGE_BODIES: dict[str, bytes] = {
    "truncated": b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "mess',
    "html": b"<html><body>502 Bad Gateway</body></html>",
    "empty": b"",
    "binary": bytes(range(256)),
}

# The error message llama-cpp-python 0.3.36's server sends for `response_format.type = json_schema`
# (HTTP 500, "type": "internal_server_error"), as measured against the real server.
LLAMA_CPP_PYTHON_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"llama_cpp/server/app.py\", "
    "line 376, in create_chat_completion\n    POST /v1/chat/completions"
)


@dataclass(frozen=True)
class ServerProfile:
    """How a server behaves where OpenAI-compatible servers differ (see the module docstring)."""

    name: str = "openai"
    json_schema: Literal["enforced", "refused"] = "enforced"
    json_object_schema: Literal["follows_prompt", "enforced"] = "follows_prompt"
    json_object: Literal["follows_prompt", "own_keys"] = "follows_prompt"
    top_token: Literal["answer", "marker"] = "answer"
    reask_helps: bool = True  # marker model: a stricter re-ask gets a plain yes/no
    one_at_a_time: bool = False
    logprobs: Literal["given", "ignored", "refused"] = "given"


PROFILES: dict[str, ServerProfile] = {
    "openai": ServerProfile(),
    "rejects-json-schema": ServerProfile(
        "rejects-json-schema", json_schema="refused", json_object_schema="enforced", json_object="own_keys"
    ),
    "marker-top-token": ServerProfile("marker-top-token", top_token="marker"),
    "one-at-a-time": ServerProfile("one-at-a-time", one_at_a_time=True),
    "no-logprobs": ServerProfile("no-logprobs", logprobs="ignored"),
    "refuses-logprobs": ServerProfile("refuses-logprobs", logprobs="refused"),
    "llama-cpp-python": ServerProfile(
        "llama-cpp-python",
        json_schema="refused",
        json_object_schema="enforced",
        json_object="own_keys",
        top_token="marker",
        one_at_a_time=True,
    ),
}
# The marker model's alternatives for a one-token answer: `<<` on top, yes + no sharing
# MARKER_YES_NO_MASS by the policy's P(yes), then a few other tokens.
MARKER_YES_NO_MASS = 0.3
MARKER_OTHERS = (("<<", 0.5), ("<", 0.08), ("The", 0.05), ("```", 0.04))
STRICT_HINT = "exactly one word"
COUNTING = "1, "  # how a free-text answer (no format, no rubric, max_tokens > 1) starts

Policy = Callable[[str], float]


def hash_policy(text: str) -> float:
    """P(yes) in [0.02, 0.98], a deterministic function of the text (about half the answers are yes)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return round(0.02 + 0.96 * digest[0] / 255, 4)


def request_key(body: dict[str, Any]) -> str:
    """What identifies a request's content: the model and the messages."""
    blob = json.dumps({"model": body.get("model"), "messages": body.get("messages")}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def question_text(body: dict[str, Any]) -> str:
    """The first user message: what is being asked (a corrective re-ask keeps the same question)."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return str(content or "")
    return ""


@dataclass
class Fault:
    kind: str
    remaining: int
    match: str | None = None
    retry_after: float | None = None


def body_key(body: dict[str, Any]) -> str:
    """What identifies a whole request: every field (messages, temperature, seed, formats, ...)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()[:24]


def marker_alternatives(p_yes: float) -> list[tuple[str, float]]:
    """The `marker-top-token` model's next-token distribution (head), most likely first."""
    alts = [*MARKER_OTHERS, ("yes", MARKER_YES_NO_MASS * p_yes), ("no", MARKER_YES_NO_MASS * (1 - p_yes))]
    return sorted(alts, key=lambda a: -a[1])


def _rubric_keys(text: str) -> list[str]:
    """The question ids a rubric prompt lists (`- imports: Does the code ...`)."""
    return re.findall(r"(?m)^- ([a-z][a-z0-9_]*): ", text)


def _token(text: str, p_yes: float | None, top: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"token": text, "bytes": list(text.encode()), "logprob": 0.0, "top_logprobs": []}
    if p_yes is None:
        return entry
    p_yes = min(max(p_yes, 1e-6), 1 - 1e-6)
    alts = [("yes", math.log(p_yes)), ("no", math.log(1 - p_yes))]
    entry["logprob"] = dict(alts)[text.strip('"')]
    alts.sort(key=lambda a: -a[1])
    entry["top_logprobs"] = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alts[:top]]
    return entry


@dataclass(frozen=True)
class FaultMix:
    """Seeded random faults per request body (see the module docstring)."""

    rate_429: float = 0.15
    retry_after: float = 0.2
    rate_500: float = 0.10
    rate_hang: float = 0.03
    hang_seconds: float = 8.0
    rate_garbage: float = 0.05
    max_faults_per_body: int = 3
    latency: float = 0.03
    seed: int = 0

    def draw(self, key: str, attempt: int) -> str | None:
        """The fault for the `attempt`-th request (0-based) with body `key`, or None: answer it."""
        digest = hashlib.sha256(f"{self.seed}:{key}:{attempt}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        for kind, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("hang", self.rate_hang),
            ("garbage", self.rate_garbage),
        ):
            if u < rate:
                return kind
            u -= rate
        return None

    def garbage_body(self, key: str, attempt: int) -> bytes:
        digest = hashlib.sha256(f"garbage:{self.seed}:{key}:{attempt}".encode()).digest()
        kinds = sorted(GARBAGE_BODIES)
        return GARBAGE_BODIES[kinds[digest[0] % len(kinds)]]


FLAKY_PROVIDER = FaultMix()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default backlog of 5 stalls bursts of new connections for seconds
    owner: OpenAITestServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client went away (killed, timed out)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # otherwise every keep-alive response waits ~40 ms on delayed ACKs
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), headers)

    def client_gone(self) -> bool:
        """True when the client closed its end (it was killed or gave up on this request)."""
        sock: socket.socket = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            self._send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        self.server.owner._handle(self, body)


class OpenAITestServer:
    """Start with `with OpenAITestServer(...) as server:`; point clients at `server.base_url`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        policy: Policy = hash_policy,
        profile: ServerProfile | str = "openai",
        latency_per_token: float = 0.0,
        hang_seconds: float = 30.0,
        fault_mix: FaultMix | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.fault_mix = fault_mix
        self.latency = fault_mix.latency if fault_mix is not None and not latency else latency
        self.latency_per_token = latency_per_token
        self.policy = policy
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self._one_at_a_time = threading.Lock()
        self.hang_seconds = hang_seconds
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._pause_limit: int | None = None
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset_counts()

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> OpenAITestServer:
        self._server = _HTTPServer((self._host, self._port), _Handler)
        self._server.owner = self
        self._port = self._server.server_address[1]
        self._stop.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAITestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}/v1"

    # ---- control ---------------------------------------------------------------------------
    def inject(
        self, kind: str, count: int = 1, *, match: str | None = None, retry_after: float | None = None
    ) -> None:
        """Make the next `count` requests (containing `match`, if given) fail with `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(Fault(kind, count, match, retry_after))

    def pause_after(self, answers: int) -> None:
        """Answer `answers` more requests in total, then hold every request until `resume()`."""
        with self._lock:
            self._pause_limit = self.answered_total + answers
            self._resume.clear()

    def resume(self) -> None:
        with self._lock:
            self._pause_limit = None
        self._resume.set()

    def reset_counts(self) -> None:
        with self._lock:
            self.answered: Counter[str] = Counter()
            self.bodies: Counter[str] = Counter()
            self.seen_bodies: list[str] = []  # every answered request body, as JSON, in order
            self.received: Counter[str] = Counter()
            self.mixed_faults: Counter[str] = Counter()  # faults of the FaultMix per body
            self.statuses: Counter[str] = Counter()
            self.abandoned = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self.processing = 0
            self.max_processing = 0
            self._reserved = 0
            self._waiting = 0

    @property
    def answered_total(self) -> int:
        return sum(self.answered.values())

    @property
    def requests_total(self) -> int:
        return sum(self.received.values())

    @property
    def waiting(self) -> int:
        """Requests currently held by `pause_after`."""
        return self._waiting

    # ---- request handling --------------------------------------------------------------------
    def _take_fault(self, text: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.match is None or fault.match in text):
                    fault.remaining -= 1
                    return fault
        return None

    def _sleep(self, seconds: float, handler: _Handler) -> bool:
        """Sleep unless stopped or the client went away; False if the client went away."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.05))
            if handler.client_gone():
                return False
        return False

    def _handle(self, handler: _Handler, body: dict[str, Any]) -> None:
        key = request_key(body)
        text = question_text(body)
        with self._lock:
            attempt = self.received[key]
            self.received[key] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._mixed_fault(handler, key, attempt):
                pass
            elif self.profile.one_at_a_time:
                with self._one_at_a_time:
                    self._processing(handler, body, key, text)
            else:
                self._processing(handler, body, key, text)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _processing(self, handler: _Handler, body: dict[str, Any], key: str, text: str) -> None:
        with self._lock:
            self.processing += 1
            self.max_processing = max(self.max_processing, self.processing)
        try:
            self._respond(handler, body, key, text)
        finally:
            with self._lock:
                self.processing -= 1

    def _mixed_fault(self, handler: _Handler, key: str, attempt: int) -> bool:
        """Serve the FaultMix's fault for this attempt, if it draws one; True when it did."""
        mix = self.fault_mix
        if mix is None:
            return False
        with self._lock:
            kind = mix.draw(key, attempt) if self.mixed_faults[key] < mix.max_faults_per_body else None
            if kind is not None:
                self.mixed_faults[key] += 1
        if kind is None:
            return False
        if self.latency:
            time.sleep(self.latency)
        self._count_status(kind)
        if kind == "429":
            handler._send_json(
                429,
                {"error": {"message": "Rate limit reached for requests", "type": "requests"}},
                {"Retry-After": f"{mix.retry_after:g}"},
            )
        elif kind == "500":
            handler._send_json(500, {"error": {"message": "The server had an error", "type": "server_error"}})
        elif kind == "garbage":
            handler._send(200, mix.garbage_body(key, attempt))
        else:  # hang, then drop the connection without an answer
            self._sleep(mix.hang_seconds, handler)
            handler.close_connection = True
        return True

    def _respond(self, handler: _Handler, body: dict[str, Any], key: str, text: str) -> None:
        if self.latency or self.latency_per_token:
            time.sleep(self.latency + self.latency_per_token * int(body.get("max_tokens") or 1))
        fault = self._take_fault(json.dumps(body.get("messages"), ensure_ascii=False))
        if fault is not None and fault.kind != "malformed":
            self._count_status(fault.kind)
            if fault.kind == "429":
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                handler._send_json(
                    429,
                    {"error": {"message": "Rate limit reached for requests", "type": "requests"}},
                    headers,
                )
            elif fault.kind == "500":
                handler._send_json(
                    500, {"error": {"message": "The server had an error", "type": "server_error"}}
                )
            elif fault.kind == "echo_auth":
                auth = handler.headers.get("Authorization", "")
                handler._send_json(500, {"error": {"message": f"upstream failed for credentials {auth}"}})
            elif fault.kind == "garbage":
                handler._send(200, b'<html><body>502 Bad Gateway</body></html> {"id": "chatcmpl-')
            elif fault.kind == "hang":
                self._sleep(self.hang_seconds, handler)
                handler.close_connection = True
            return

        response_format = body.get("response_format") or {}
        if body.get("logprobs") and self.profile.logprobs == "refused":
            self._count_status("refused")
            handler._send_json(
                400,
                {
                    "error": {
                        "message": "logprobs is not supported by this server",
                        "type": "invalid_request_error",
                    }
                },
            )
            return
        if response_format.get("type") == "json_schema" and self.profile.json_schema == "refused":
            self._count_status("refused")
            handler._send_json(
                500, {"error": {"message": LLAMA_CPP_PYTHON_REFUSAL, "type": "internal_server_error"}}
            )
            return
        if not self._wait_gate(handler):
            return
        try:
            if fault is not None:  # malformed
                content, logprobs = (
                    ("Maybe, it depends on the context." if "response_format" not in body else "{not json"),
                    None,
                )
            else:
                content, logprobs = self._answer(body, text)
            prompt_tokens = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
            free_text = content.startswith(COUNTING)
            completion_tokens = int(body.get("max_tokens") or 1) if free_text else max(1, len(content) // 4)
            response = {
                "id": f"chatcmpl-{key}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "test-model"),
                "system_fingerprint": "fp_loopback",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": {"content": logprobs} if logprobs is not None else None,
                        "finish_reason": "length" if free_text else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
            if handler.client_gone():
                with self._lock:
                    self.abandoned += 1
                return
            handler._send_json(200, response)
            with self._lock:
                self.answered[key] += 1
                self.bodies[body_key(body)] += 1
                self.seen_bodies.append(json.dumps(body, sort_keys=True))
            self._count_status("malformed" if fault is not None else "200")
        finally:
            with self._lock:
                self._reserved -= 1

    def _wait_gate(self, handler: _Handler) -> bool:
        """Reserve an answer slot, holding the request while paused. False if the client left."""
        while True:
            with self._lock:
                limit = self._pause_limit
                if limit is None or self.answered_total + self._reserved < limit:
                    self._reserved += 1
                    return True
                self._waiting += 1
            try:
                while not self._resume.wait(0.05):
                    if self._stop.is_set() or handler.client_gone():
                        with self._lock:
                            self.abandoned += 1
                        handler.close_connection = True
                        return False
            finally:
                with self._lock:
                    self._waiting -= 1
            if self._stop.is_set():
                return False

    def _count_status(self, status: str) -> None:
        with self._lock:
            self.statuses[status] += 1

    def _answer(self, body: dict[str, Any], text: str) -> tuple[str, list[dict[str, Any]] | None]:
        want_logprobs = bool(body.get("logprobs")) and self.profile.logprobs == "given"
        top = int(body.get("top_logprobs") or 0)
        response_format = body.get("response_format") or {}
        kind = response_format.get("type")
        properties: list[str] | None = None
        if kind == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {}
            properties = list((schema.get("properties") or {}).keys())
        elif kind == "json_object":
            schema = response_format.get("schema")
            if schema and self.profile.json_object_schema == "enforced":
                properties = list((schema.get("properties") or {}).keys())
            elif self.profile.json_object == "own_keys":
                content = json.dumps({"answer": "yes", "reason": "The code looks fine."})
                return content, ([_token(content, None, top)] if want_logprobs else None)
            else:
                properties = _rubric_keys(text)
        elif _rubric_keys(text):  # no response_format: a rubric prompt alone asks for JSON
            properties = _rubric_keys(text)
        elif int(body.get("max_tokens") or 1) > 1:  # free text: the model writes until max_tokens
            return COUNTING + ", ".join(str(i) for i in range(2, int(body["max_tokens"]) + 1)), None
        if properties is not None:
            tokens: list[dict[str, Any]] = []
            answers = {}
            pieces: list[tuple[str, float | None]] = [("{", None)]
            for i, name in enumerate(properties):
                p = self.policy(f"{name}\n{text}")
                answers[name] = "yes" if p >= 0.5 else "no"
                pieces += [(("," if i else "") + f'"{name}":"', None), (answers[name], p), ('"', None)]
            pieces.append(("}", None))
            content = "".join(piece for piece, _ in pieces)
            if want_logprobs:
                tokens = [_token(piece, p, top) for piece, p in pieces]
            return content, (tokens if want_logprobs else None)
        p = self.policy(text)
        answer = "yes" if p >= 0.5 else "no"
        last_user = [m for m in body.get("messages") or [] if m.get("role") == "user"][-1:]
        strict = (
            self.profile.reask_helps
            and bool(last_user)
            and STRICT_HINT in str(last_user[0].get("content", ""))
        )
        if self.profile.top_token == "marker" and not strict:
            alts = marker_alternatives(p)
            entry: dict[str, Any] = {
                "token": alts[0][0],
                "bytes": list(alts[0][0].encode()),
                "logprob": math.log(alts[0][1]),
                "top_logprobs": [
                    {"token": t, "logprob": math.log(q), "bytes": list(t.encode())} for t, q in alts[:top]
                ],
            }
            return alts[0][0], ([entry] if want_logprobs else None)
        return answer, ([_token(answer, p, top)] if want_logprobs else None)


def main(argv: list[str] | None = None) -> None:
    """`python -m gorilla_rlaif.testing.openai_server --latency 0.2`: serve in the foreground and
    print `PORT <n>` once listening (benchmarks run it in its own process, away from the client's GIL)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="openai", help="server behaviour")
    parser.add_argument(
        "--fault-mix", action="store_true", help="serve FLAKY_PROVIDER (429/500/hang/garbage per body)"
    )
    args = parser.parse_args(argv)
    mix = FLAKY_PROVIDER if args.fault_mix else None
    server = OpenAITestServer(
        latency=args.latency, fault_mix=mix, port=args.port, profile=args.profile
    ).start()
    print(f"PORT {server.port}", flush=True)
    try:
        sys.stdin.read()  # serve until stdin closes (the parent exits or closes the pipe)
    finally:
        server.stop()


if __name__ == "__main__":
    main()

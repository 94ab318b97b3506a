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
credentials never leak into our rows and logs). `latency` adds a fixed delay to every request.

`FaultMix` is a provider having a bad day, decided per request body: each attempt at a body
draws, from a seeded hash of (seed, body, attempt), a 429 with `Retry-After`, a 500, a hang that
ends in a dropped connection, or a garbage 200 (truncated JSON, HTML, an empty body, binary
bytes), at most `max_faults_per_body` times per body; then it is answered. `FLAKY_PROVIDER` is
the mix labeling was tested under (15% 429, 10% 500, 3% 8-second hangs, 5% garbage, <= 3 faults
per body, 30 ms latency). Being a function of the body, not of arrival order, the same mix hits
the same requests however many are in flight.

Counting: `answered[key]` counts answers actually delivered per request content (`request_key`),
`received[key]` every request. An answer is only counted once the client is known to be still
connected (a request held by `pause_after` whose client died is counted in `abandoned`).

A `ThreadingHTTPServer` needs a large `request_queue_size` and `disable_nagle_algorithm` (both
measured), or the server, not the client, sets the pace of a benchmark.
"""

from __future__ import annotations

import hashlib
import json
import math
import select
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = ("429", "500", "hang", "garbage", "malformed", "echo_auth")
# Bodies of a garbage 200, by kind: what a misbehaving proxy or provider sends back.
GARBAGE_BODIES: dict[str, bytes] = {
    "truncated": b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "mess',
    "html": b"<html><body>502 Bad Gateway</body></html>",
    "empty": b"",
    "binary": bytes(range(256)),
}

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
        hang_seconds: float = 30.0,
        fault_mix: FaultMix | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.fault_mix = fault_mix
        self.latency = fault_mix.latency if fault_mix is not None and not latency else latency
        self.policy = policy
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
            self.received: Counter[str] = Counter()
            self.mixed_faults: Counter[str] = Counter()  # faults of the FaultMix per body
            self.statuses: Counter[str] = Counter()
            self.abandoned = 0
            self.in_flight = 0
            self.max_in_flight = 0
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
            if not self._mixed_fault(handler, key, attempt):
                self._respond(handler, body, key, text)
        finally:
            with self._lock:
                self.in_flight -= 1

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
        if self.latency:
            time.sleep(self.latency)
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
            completion_tokens = max(1, len(content) // 4)
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
                        "finish_reason": "stop",
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
        want_logprobs = bool(body.get("logprobs"))
        top = int(body.get("top_logprobs") or 0)
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {}
            properties = list((schema.get("properties") or {}).keys())
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
        return answer, ([_token(answer, p, top)] if want_logprobs else None)


def main(argv: list[str] | None = None) -> None:
    """`python -m gorilla_rlaif.testing.openai_server --latency 0.2`: serve in the foreground and
    print `PORT <n>` once listening (benchmarks run it in its own process, away from the client's GIL)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument(
        "--fault-mix", action="store_true", help="serve FLAKY_PROVIDER (429/500/hang/garbage per body)"
    )
    args = parser.parse_args(argv)
    mix = FLAKY_PROVIDER if args.fault_mix else None
    server = OpenAITestServer(latency=args.latency, fault_mix=mix, port=args.port).start()
    print(f"PORT {server.port}", flush=True)
    try:
        sys.stdin.read()  # serve until stdin closes (the parent exits or closes the pipe)
    finally:
        server.stop()


if __name__ == "__main__":
    main()

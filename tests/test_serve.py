"""`gorilla-bench serve` with a real HTTP client: the server is started by the tests as a user
starts it (the CLI, on a free loopback port), on the local backend (bubblewrap), with light
workers (`--preload json`) so start-up takes a second; every request goes over real sockets."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx2
import pytest

from gorilla_rlaif.cli import bench_main
from gorilla_rlaif.harness import SandboxConfig, Status, run_snippets
from gorilla_rlaif.testing.sandbox_server import SandboxServer

FIXTURES = json.loads((Path(__file__).parent / "data" / "sandboxfusion_run_code.json").read_text())
MAX_PENDING = 12
SERVER_ARGS = [
    "--backend", "local", "--workers", "2", "--preload", "json", "--timeout", "5", "--memory-mb", "512",
    "--max-snippets", "16", "--max-pending", str(MAX_PENDING), "--max-request-mb", "1",
]  # fmt: skip


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SERVER_ARGS) as srv:
        yield srv


@pytest.fixture
def http(server):
    with httpx2.Client(base_url=server.url, timeout=60) as client:
        yield client


def executed(http) -> dict[str, float]:
    """The server's Prometheus counter of snippets run, by status."""
    text = http.get("/metrics").text
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^gorilla_sandbox_snippets_total\{status="(\w+)"\} (\S+)$', text, re.M)
    }


def batch(http, snippets: list[dict], client_id: str | None = None) -> dict[str, dict]:
    response = http.post("/v1/batch", json={"client_id": client_id or uuid.uuid4().hex, "snippets": snippets})
    assert response.status_code == 200, response.text
    rows = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert len(rows) == len(snippets)
    return {row["id"]: row for row in rows}


# ---- SandboxFusion's /run_code ---------------------------------------------------------------------
@pytest.mark.parametrize("case", FIXTURES["cases"], ids=lambda c: c["name"])
def test_run_code_answers_sandboxfusion_requests_in_its_shape(http, case):
    response = http.post("/run_code", json=case["request"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == set(FIXTURES["response_keys"])
    assert set(body["run_result"]) == set(FIXTURES["run_result_keys"])
    expect, run = case["expect"], body["run_result"]
    assert body["status"] == expect["status"], body
    assert run["status"] == expect["run_status"], body
    for key in ("return_code", "stdout"):
        if key in expect:
            assert run[key] == expect[key], body
    if "stderr_contains" in expect:
        assert expect["stderr_contains"] in run["stderr"]
    assert body["files"] == expect.get("files", {})
    assert isinstance(run["execution_time"], float) and body["executor_pod_name"]
    if case["name"] == "time_limit":
        assert 0.9 < run["execution_time"] < 4  # the request's 1 s, not the server's 5 s


# ---- our batch endpoint ----------------------------------------------------------------------------
def test_batch_endpoint_returns_our_status_taxonomy(http):
    from tests.test_harness_sandbox import STATUS_SNIPPETS

    snippets = [
        {"id": name, "code": code, **({"timeout_s": 1} if expected is Status.timeout else {})}
        for name, (code, expected) in STATUS_SNIPPETS.items()
    ]
    rows = batch(http, snippets)
    assert {k: rows[k]["status"] for k in STATUS_SNIPPETS} == {
        k: s.value for k, (_, s) in STATUS_SNIPPETS.items()
    }
    assert (
        rows["ok"]["stdout"] == "hello from the sandbox\n" and rows["runtime"]["error_message"] == "bad value"
    )


def test_hostile_snippets_over_http_are_contained_and_the_server_keeps_serving(http):
    hostile = [
        {"id": "fork_bomb", "code": "import os\nwhile True:\n    os.fork()", "timeout_s": 3},
        {"id": "memory_bomb", "code": "x = b'a' * (8 << 30)"},
        {"id": "loop", "code": "while True:\n    pass", "timeout_s": 1},
    ]
    rows = batch(http, hostile)
    assert rows["fork_bomb"]["status"] in {"runtime_error", "timeout"}
    assert rows["memory_bomb"]["status"] == "oom"
    assert rows["loop"]["status"] == "timeout"
    assert http.get("/health").json()["status"] == "ok"
    assert (
        batch(http, [{"id": "after", "code": "print('still works')"}])["after"]["stdout"] == "still works\n"
    )


def test_one_clients_files_are_never_seen_by_another(http):
    secret = uuid.uuid4().hex
    writer = (
        f"import os\nfor d in ('.', '/tmp', '/dev/shm'):\n    open(os.path.join(d, 'secret-{secret}'), 'w').write('x')\n"
        "print(sorted(os.listdir('.')))"
    )
    # everything but the world's own torch.hub scratch (/tmp/.torch, made afresh for every snippet)
    reader = (
        "import os\nprint([f for d in ('.', '/tmp', '/dev/shm') for f in os.listdir(d) if f != '.torch'])"
    )
    a = batch(
        http, [{"id": "w", "code": writer, "files": {"mine.txt": "eA=="}}], client_id="client-a-" + secret
    )
    assert (
        a["w"]["status"] == "ok" and f"secret-{secret}" in a["w"]["stdout"] and "mine.txt" in a["w"]["stdout"]
    )
    # several reads, so the other client lands on the writer's worker too (2 workers)
    rows = batch(http, [{"id": f"r{i}", "code": reader} for i in range(6)], client_id="client-b-" + secret)
    assert all(row["status"] == "ok" and row["stdout"] == "[]\n" for row in rows.values()), rows


def test_a_retried_request_runs_nothing_twice(http):
    client = "retry-" + uuid.uuid4().hex
    slow = {"id": "slow", "code": "import time\ntime.sleep(2)\nprint('done')"}
    before = executed(http)["ok"]
    # the first request is dropped right after it was sent: the snippet goes on running
    with http.stream("POST", "/v1/batch", json={"client_id": client, "snippets": [slow]}) as response:
        assert response.status_code == 200
    time.sleep(1.0)
    started = time.monotonic()
    again = batch(http, [slow], client_id=client)["slow"]  # attaches to the run in flight
    assert again["status"] == "ok" and again["stdout"] == "done\n"
    assert time.monotonic() - started < 1.8  # the first run's last second, not a second 2 s run
    stored = batch(http, [slow], client_id=client)["slow"]
    assert stored == again
    assert executed(http)["ok"] == before + 1
    changed = batch(http, [{**slow, "code": "print('new code')"}], client_id=client)["slow"]
    assert changed["stdout"] == "new code\n" and executed(http)["ok"] == before + 2


# ---- limits ----------------------------------------------------------------------------------------
def test_oversize_and_malformed_requests_get_a_4xx_with_a_reason(http):
    cases = [
        (http.post("/run_code", content=b'{"code": "' + b"x" * (1 << 20) + b'"}'), 413, "exceeds"),
        (
            http.post("/run_code", content=b"{not json", headers={"content-type": "application/json"}),
            422,
            "JSON",
        ),
        (http.post("/run_code", json={"language": "python"}), 422, "code"),
        (http.post("/run_code", json={"code": "print(1)", "language": "cpp"}), 400, "not supported"),
        (http.post("/run_code", json={"code": "print(1)", "run_timeout": 60}), 400, "exceeds this server's 5.0 s"),
        (http.post("/run_code", json={"code": "1", "files": {"../escape": "eA=="}}), 400, "not a relative path"),
        (
            http.post("/v1/batch", json={"client_id": "x" * 8, "snippets": [{"id": str(i), "code": "1"} for i in range(17)]}),
            413,
            "at most 16",
        ),
        (http.post("/v1/batch", json={"client_id": "x" * 8, "snippets": [{"id": "a"}]}), 422, "code"),
        (http.post("/run_code", content=iter([b'{"code": "1"}']), headers={"content-type": "application/json"}), 411, "Content-Length"),
    ]  # fmt: skip
    for response, status, reason in cases:
        assert response.status_code == status, (status, response.text)
        assert reason in response.text, (reason, response.text)


def test_a_full_queue_gets_429_with_retry_after_and_the_client_waits_it_out(server, http):
    client = "fill-" + uuid.uuid4().hex
    filler = [{"id": f"f{i}", "code": "import time\ntime.sleep(2)"} for i in range(MAX_PENDING)]
    holder = threading.Thread(target=batch, args=(http, filler, client))
    holder.start()
    try:
        deadline = time.monotonic() + 10
        while http.get("/health").json()["pending"] < MAX_PENDING and time.monotonic() < deadline:
            time.sleep(0.05)
        full = http.post("/run_code", json={"code": "print(1)"})
        assert full.status_code == 429 and "queue is full" in full.text
        assert int(full.headers["retry-after"]) >= 1
        stats: dict = {}
        config = SandboxConfig(backend="remote", url=server.url, timeout_s=5, memory_mb=512, workers=1)
        results = run_snippets(
            [{"id": "late", "code": "print('in the end')"}], config, progress=False, stats=stats
        )
        assert results[0].stdout == "in the end\n" and stats["remote_retries"] >= 1
    finally:
        holder.join()
    assert 'gorilla_sandbox_rejected_requests_total{reason="queue_full"}' in http.get("/metrics").text


# ---- the remote backend (the client in the package) ------------------------------------------------
class DroppingProxy:
    """A TCP proxy in front of the server that cuts the FIRST batch request's connection right
    after the first result row went through (a flaky network), and passes all else through."""

    def __init__(self, upstream: str):
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.dropped = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client):
        upstream = socket.create_connection(self.upstream)
        state = {"batch": False}

        def close_both():
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

        def requests():
            try:
                while data := client.recv(65536):
                    state["batch"] = state["batch"] or b"POST /v1/batch" in data
                    upstream.sendall(data)
            except OSError:
                pass
            close_both()

        threading.Thread(target=requests, daemon=True).start()
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
                if state["batch"] and b'"id"' in data:
                    with self.lock:
                        cut, self.dropped = self.dropped == 0, self.dropped + 1
                    if cut:
                        break
        except OSError:
            pass
        close_both()

    def close(self):
        self.sock.close()


def test_remote_backend_survives_a_dropped_connection_without_loss_or_duplicates(server, http, tmp_path):
    proxy = DroppingProxy(server.url)
    try:
        snippets = [
            {"id": f"s{i}", "code": f"import time\ntime.sleep({0.2 * i})\nprint({i})"} for i in range(5)
        ]
        before = sum(executed(http).values())
        stats: dict = {}
        config = SandboxConfig(
            backend="remote", url=proxy.url, timeout_s=5, memory_mb=512, workers=1, remote_batch=8
        )
        results = run_snippets(snippets, config, output=tmp_path / "out.jsonl", progress=False, stats=stats)
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(5)]
        assert stats["remote_retries"] >= 1 and proxy.dropped >= 2
        assert sum(executed(http).values()) == before + 5  # each snippet ran exactly once
        rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert sorted(r["id"] for r in rows) == [f"s{i}" for i in range(5)]
        # resumed: nothing runs again
        assert run_snippets(snippets, config, output=tmp_path / "out.jsonl", progress=False) == results
        assert sum(executed(http).values()) == before + 5
    finally:
        proxy.close()


def test_exec_command_with_a_remote_sandbox_and_its_errors(server, tmp_path, capsys):
    snippets = tmp_path / "s.jsonl"
    snippets.write_text('{"id": "a", "code": "print(6 * 7)"}\n{"id": "b", "code": "import nope"}\n')
    out = tmp_path / "out.jsonl"
    args = [
        "exec",
        str(snippets),
        "-o",
        str(out),
        "--backend",
        "remote",
        "--url",
        server.url,
        "--no-progress",
    ]
    assert bench_main([*args, "--timeout", "5", "--memory-mb", "512"]) == 0
    rows = {json.loads(line)["id"]: json.loads(line) for line in out.read_text().splitlines()}
    assert rows["a"]["stdout"] == "42\n" and rows["b"]["status"] == "import_error"
    assert bench_main([*args, "--timeout", "30", "--memory-mb", "512"]) == 2
    assert "exceeds what the server" in capsys.readouterr().err
    dead = [
        "exec",
        str(snippets),
        "-o",
        str(tmp_path / "x.jsonl"),
        "--backend",
        "remote",
        "--url",
        "http://127.0.0.1:9",
    ]
    assert bench_main([*dead, "sandbox.retries=0"]) == 2
    err = capsys.readouterr().err
    assert "no sandbox server answers at http://127.0.0.1:9" in err and "Traceback" not in err


def test_grpo_execution_reward_through_a_remote_sandbox(server):
    from gorilla_rlaif.data import format_target, load_records
    from gorilla_rlaif.train.config import ExecutionSpec
    from gorilla_rlaif.train.execution import ExecutionReward

    record = next(r for r in load_records("torchhub", "eval").records if r.output is not None)
    gold = format_target(record.output)
    runs = gold.replace(record.output.code, "import json\nprint(json.dumps([1]))")
    broken = gold.replace(record.output.code, "import json\nprint(json.dumps([1])")
    spec = ExecutionSpec(sandbox={"backend": "remote", "url": server.url, "timeout_s": 5, "memory_mb": 512})
    reward = ExecutionReward(spec)
    scores = reward(["p"] * 3, [runs, broken, "no code here"], id=[record.id] * 3)
    assert scores == [1.0, 0.5, 0.0]  # runs + gold API; syntax error + gold API; nothing to run


# ---- who may call it -------------------------------------------------------------------------------
def test_serve_refuses_unsafe_settings_with_one_line(tmp_path, capsys):
    assert bench_main(["serve", "--host", "0.0.0.0", "--backend", "local"]) == 2
    assert "--token-file" in capsys.readouterr().err
    assert bench_main(["serve", "--backend", "local", "sandbox.network=true"]) == 2
    assert "another's files" in capsys.readouterr().err
    short = tmp_path / "token"
    short.write_text("abc")
    assert bench_main(["serve", "--backend", "local", "--token-file", str(short)]) == 2
    err = capsys.readouterr().err
    assert "at least 16 characters" in err and err.count("\n") == 1


def test_a_token_is_required_off_loopback(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token-for-tests-0123456789\n")
    args = [
        "--backend",
        "local",
        "--workers",
        "1",
        "--preload",
        "json",
        "--host",
        "0.0.0.0",
        "--token-file",
        str(token),
    ]
    with SandboxServer(args) as srv:
        url = srv.url.replace("0.0.0.0", "127.0.0.1")  # bound everywhere; the test talks over loopback
        with httpx2.Client(base_url=url, timeout=30) as http:
            assert http.get("/health").status_code == 200  # probes need no token
            refused = http.post("/run_code", json={"code": "print(1)"})
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            wrong = http.post("/run_code", json={"code": "1"}, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert http.get("/metrics").status_code == 401
            auth = {"Authorization": "Bearer s3cret-token-for-tests-0123456789"}
            ok = http.post("/run_code", json={"code": "print(1)"}, headers=auth)
            assert ok.status_code == 200 and ok.json()["run_result"]["stdout"] == "1\n"
        config = SandboxConfig(backend="remote", url=url, token_file=token, workers=1, memory_mb=2048)
        assert run_snippets([{"id": "t", "code": "print(2)"}], config, progress=False)[0].stdout == "2\n"

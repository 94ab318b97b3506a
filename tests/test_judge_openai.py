"""The openai judge end to end: `label` against a real OpenAI-compatible server on 127.0.0.1.

The server (gorilla_rlaif.testing.openai_server) answers deterministically from a hash of the
request text, so expected answers, scores and probabilities are computed independently here.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gorilla_rlaif.errors import ConfigError, DataError
from gorilla_rlaif.io import read_jsonl, write_jsonl
from gorilla_rlaif.judge import JudgeConfig, LabelConfig, instruction_from_prompt, label, load_rubric
from gorilla_rlaif.llm import LLMSettings
from gorilla_rlaif.testing.openai_server import FLAKY_PROVIDER, OpenAITestServer, hash_policy
from tests.helpers.candidates import candidate_rows, write_candidates

RUBRIC = load_rubric()


def expected_per_question(row):
    instruction = instruction_from_prompt(row["prompt"])
    answers, p_yes = {}, {}
    for q in RUBRIC.questions:
        p = hash_policy(RUBRIC.per_question_prompt(instruction, row["completion"], q))
        answers[q.id], p_yes[q.id] = ("yes" if p >= 0.5 else "no"), p
    return answers, p_yes


def expected_rubric(row):
    text = RUBRIC.rubric_prompt(instruction_from_prompt(row["prompt"]), row["completion"])
    p_yes = {q.id: hash_policy(f"{q.id}\n{text}") for q in RUBRIC.questions}
    return {q: "yes" if p >= 0.5 else "no" for q, p in p_yes.items()}, p_yes


def make_config(tmp_path, server, mode="per-question", **llm):
    base = {"base_url": server.base_url, "backoff_initial": 0.01, "timeout": 1.0, "concurrency": 8}
    return LabelConfig(
        candidates=str(tmp_path / "candidates.jsonl"),
        output=str(tmp_path / "feedback.jsonl"),
        judge=JudgeConfig(
            judge="openai:gpt-4o-mini", mode=mode, openai={"llm": LLMSettings(**{**base, **llm})}
        ),
    )


def rows_of(path):
    return [row for _, row in read_jsonl(path)]


@pytest.fixture
def server():
    with OpenAITestServer() as s:
        yield s


def test_per_question_end_to_end_with_faults(tmp_path, server):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=3, per_prompt=3)
    bad = candidates[4]
    server.inject("429", 3, retry_after=0.05)
    server.inject("500", 2)
    server.inject("garbage", 2)
    server.inject("hang", 1)
    server.inject("malformed", 10, match=json.dumps(bad["completion"], ensure_ascii=False)[1:-1])  # row 4
    summary = label(make_config(tmp_path, server, timeout=0.5, max_malformed_retries=1), progress=False)

    rows = rows_of(tmp_path / "feedback.jsonl")
    assert [r["id"] for r in rows] == [c["id"] for c in candidates]  # one row each, input order
    assert all(r["status"] in ("ok", "failed") for r in rows)
    assert all(r["error"] for r in rows if r["status"] == "failed")
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["id"] for r in failed] == [bad["id"]]
    assert "malformed answer after 2 tries" in failed[0]["error"] and failed[0]["score"] is None
    assert summary["ok"] == 8 and summary["failed"] == 1
    # retries happened for every injected fault kind
    for kind, n in {"429": 3, "500": 2, "garbage": 2, "hang": 1}.items():
        assert server.statuses[kind] == n
    for row in rows:
        if row["status"] != "ok":
            continue
        answers, p_yes = expected_per_question(row)
        assert row["answers"] == answers
        assert row["score"] == sum(answers[q.id] == q.desirable for q in RUBRIC.questions)
        desirable_p = sum(p_yes[q.id] if q.desirable == "yes" else 1 - p_yes[q.id] for q in RUBRIC.questions)
        assert row["weighted_score"] == pytest.approx(desirable_p, abs=1e-3)
        assert row["usage"]["requests"] == 8 and row["cost_usd"] > 0
        assert row["judge"]["model"] == "gpt-4o-mini" and row["judge"]["rubric_hash"] == RUBRIC.hash[:16]
    meta = json.loads((tmp_path / "feedback.meta.json").read_text())
    assert (
        meta["status"] == "complete" and meta["summary"]["failed"] == 1 and meta["rubric_hash"] == RUBRIC.hash
    )


def test_rubric_mode_one_request_per_row_with_probabilities(tmp_path, server):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=3, per_prompt=2)
    server.inject("malformed", 1)  # first answer is not JSON: re-asked, then fine
    label(make_config(tmp_path, server, mode="rubric"), progress=False)
    rows = rows_of(tmp_path / "feedback.jsonl")
    assert all(r["status"] == "ok" for r in rows) and len(rows) == len(candidates)
    assert server.requests_total == len(candidates) + 1
    for row in rows:
        answers, p_yes = expected_rubric(row)
        assert row["answers"] == answers
        for q in RUBRIC.ids:
            assert row["p_yes"][q] == pytest.approx(p_yes[q], abs=1e-3)


def test_rerun_costs_nothing_and_retry_failed_reasks_only_failures(tmp_path, server):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=3)
    server.inject("500", 100, match=json.dumps(candidates[1]["completion"], ensure_ascii=False)[1:-1])
    config = make_config(tmp_path, server, max_retries=1)
    first = label(config, progress=False)
    assert first["failed"] == 1
    sent = server.requests_total
    again = label(config, progress=False)
    assert server.requests_total == sent and again["failed"] == 1  # nothing re-asked
    server.reset_counts()
    server._faults.clear()
    retry = make_config(tmp_path, server, max_retries=1, retry_failed=True)
    final = label(retry, progress=False)
    # only the failed row's failed questions go out again: its 8 questions at most
    assert 1 <= server.requests_total <= 8 and final["failed"] == 0
    rows = rows_of(tmp_path / "feedback.jsonl")
    assert len(rows) == len(candidates) and {r["status"] for r in rows} == {"ok"}


def test_torn_output_line_is_resumed_from_the_cache(tmp_path, server):
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=2)
    config = make_config(tmp_path, server)
    label(config, progress=False)
    sent = server.requests_total
    out = tmp_path / "feedback.jsonl"
    data = out.read_bytes()
    out.write_bytes(data[: len(data) - 40])  # a crash in the middle of writing the last row
    label(config, progress=False)
    assert server.requests_total == sent  # the lost row was rebuilt from cached answers
    assert len(rows_of(out)) == 4


def test_other_judge_settings_cannot_append_to_an_output(tmp_path, server):
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=1, per_prompt=2)
    label(make_config(tmp_path, server), progress=False)
    with pytest.raises(ConfigError, match="other judge settings"):
        label(make_config(tmp_path, server, mode="rubric"), progress=False)


def test_bad_candidate_rows_are_named(tmp_path):
    path = tmp_path / "c.jsonl"
    write_jsonl(path, [{"id": "a", "prompt": "p", "completion": "c"}, {"id": "b", "prompt": "p"}])
    config = LabelConfig(candidates=str(path), output=str(tmp_path / "f.jsonl"))
    with pytest.raises(DataError, match=r"c\.jsonl:2: completion: Field required"):
        label(config, progress=False)
    write_jsonl(
        path, [{"id": "a", "prompt": "p", "completion": "c"}, {"id": "a", "prompt": "p", "completion": "d"}]
    )
    with pytest.raises(DataError, match=r"c\.jsonl:2: duplicate id 'a' \(first on line 1\)"):
        label(config, progress=False)


def _label_cmd(tmp_path, server, *extra):
    return [
        sys.executable, "-m", "gorilla_rlaif.cli", "rlaif", "-v", "label", str(tmp_path / "candidates.jsonl"),
        "--judge", "openai:gpt-4o-mini", "--base-url", server.base_url if server else "", "--output", str(tmp_path / "feedback.jsonl"),
        "--concurrency", "4", *extra,
    ]  # fmt: skip


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _cached_ok(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM responses WHERE status = 'ok'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_labeling_restarts_without_asking_any_answered_request_twice(tmp_path):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=4, per_prompt=3)
    total_requests = len(candidates) * len(RUBRIC.questions)
    with OpenAITestServer(latency=0.01) as server:
        server.pause_after(40)  # answer 40 requests, then hold every request: the job is mid-run
        proc = subprocess.Popen(
            _label_cmd(tmp_path, server, "--no-progress"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        db = tmp_path / "feedback.cache.sqlite"
        try:
            assert _wait(lambda: server.answered_total == 40 and server.waiting >= 1), (
                "labeling did not start"
            )
            assert _wait(lambda: _cached_ok(db) == 40), "answers were not committed"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        server.resume()
        assert _wait(lambda: server.waiting == 0)
        done_before = (
            len(rows_of(tmp_path / "feedback.jsonl")) if (tmp_path / "feedback.jsonl").stat().st_size else 0
        )
        assert done_before < len(candidates)

        restart = subprocess.run(
            _label_cmd(tmp_path, server, "--no-progress"), capture_output=True, text=True, timeout=120
        )
        assert restart.returncode == 0, restart.stderr
        assert server.answered_total == total_requests
        assert max(server.answered.values()) == 1  # no request answered twice
        assert len(server.answered) == total_requests
        rows = rows_of(tmp_path / "feedback.jsonl")
        assert sorted(r["id"] for r in rows) == sorted(c["id"] for c in candidates)
        assert all(r["status"] == "ok" for r in rows)
        for row in rows:
            assert row["answers"] == expected_per_question(row)[0]


def test_cli_progress_shows_rate_cost_failures_and_never_the_key(tmp_path):
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=2)
    secret = "sk-live-TOPSECRET-abcdefghijklmnop"
    env = {**os.environ, "OPENAI_API_KEY": secret}
    with OpenAITestServer() as server:
        server.inject("echo_auth", 30)  # the first 30 tries get a 500 whose body echoes the key back
        proc = subprocess.run(
            [*_label_cmd(tmp_path, server, "--max-retries", "1"), "--cache", str(tmp_path / "answers.db")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    assert "row/s" in proc.stderr and "cost=$" in proc.stderr and "failed=" in proc.stderr
    assert "failed" in proc.stdout and "--retry-failed" in proc.stdout
    for artifact in (tmp_path / "feedback.jsonl", tmp_path / "feedback.meta.json", tmp_path / "answers.db"):
        assert secret.encode() not in artifact.read_bytes(), artifact
    assert secret not in proc.stdout + proc.stderr
    failed = [r for r in rows_of(tmp_path / "feedback.jsonl") if r["status"] == "failed"]
    assert failed and all("***" in r["error"] for r in failed)


def test_kill_at_an_arbitrary_moment_loses_nothing(tmp_path):
    """No gate this time: SIGKILL whenever the job is running. Only requests in flight at that
    instant (at most --concurrency) can be asked again; every row ends answered exactly once."""
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=4, per_prompt=3)
    total_requests = len(candidates) * len(RUBRIC.questions)
    with OpenAITestServer(latency=0.03) as server:
        proc = subprocess.Popen(
            _label_cmd(tmp_path, server, "--no-progress"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert _wait(lambda: server.answered_total >= 25)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert server.answered_total < total_requests
        restart = subprocess.run(
            _label_cmd(tmp_path, server, "--no-progress"), capture_output=True, text=True, timeout=120
        )
        assert restart.returncode == 0, restart.stderr
        repeats = sum(n - 1 for n in server.answered.values())
        assert len(server.answered) == total_requests and repeats <= 4
    rows = rows_of(tmp_path / "feedback.jsonl")
    assert sorted(r["id"] for r in rows) == sorted(c["id"] for c in candidates)
    assert all(r["status"] == "ok" and r["answers"] == expected_per_question(r)[0] for r in rows)


def test_fault_mix_kill_and_restart_pays_for_no_answer_twice(tmp_path):
    """A provider having a bad day (FLAKY_PROVIDER: 429s, 500s, 8 s hangs, garbage 200s, at most 3
    per body), a SIGKILL once 120 answers are paid for and committed, a restart: every request body
    is answered exactly once across both runs. Two candidates share their prompt and completion
    (different ids), so they ask identical questions at the same time: those go out once."""
    rows = candidate_rows(n_prompts=13, per_prompt=3)[:39]
    twin = {**rows[30], "id": "twin-of-" + rows[30]["id"]}
    rows.insert(31, twin)  # next to its original: both are in flight together
    write_jsonl(tmp_path / "candidates.jsonl", rows)
    cmd = [*_label_cmd(tmp_path, None, "--no-progress"), "--cache", str(tmp_path / "answers.sqlite")]
    with OpenAITestServer(fault_mix=FLAKY_PROVIDER) as server:
        cmd[cmd.index("--base-url") + 1] = server.base_url
        cmd[cmd.index("--concurrency") + 1] = "8"
        server.pause_after(120)
        log = (tmp_path / "first-run.log").open("wb")  # -v logs every request: a pipe would fill up
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        try:
            assert _wait(lambda: server.answered_total == 120 and server.waiting >= 1, timeout=120)
            assert _wait(lambda: _cached_ok(tmp_path / "answers.sqlite") == 120), "answers not committed"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            log.close()
        server.resume()
        assert _wait(lambda: server.waiting == 0)
        restart = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert restart.returncode == 0, restart.stderr
        for kind in ("429", "500", "hang", "garbage"):
            assert server.statuses[kind] > 0, kind  # every fault kind was served
        distinct = len(rows) * len(RUBRIC.questions) - len(RUBRIC.questions)  # the twin asks nothing new
        assert len(server.answered) == distinct
        assert max(server.answered.values()) == 1  # no paid answer requested again, in either run
    feedback = {r["id"]: r for r in rows_of(tmp_path / "feedback.jsonl")}
    assert sorted(feedback) == sorted(r["id"] for r in rows)
    assert all(r["status"] == "ok" and r["answers"] == expected_per_question(r)[0] for r in feedback.values())
    assert feedback[twin["id"]]["answers"] == feedback[rows[30]["id"]]["answers"]

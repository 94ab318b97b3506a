"""The openai judge against the servers people run, reproduced by the loopback server's profiles.

Each profile of `gorilla_rlaif.testing.openai_server` reproduces one behaviour seen against a
real server (llama-cpp-python 0.3.36 serving SmolLM2-135M-Instruct): `rejects-json-schema`,
`marker-top-token`, `one-at-a-time`, all three as `llama-cpp-python`; plus servers without
logprobs. The expected answers are computed here from the server's policy, independently of
the judge's code.
"""

from __future__ import annotations

import json
import logging
import math

import pytest

from gorilla_rlaif.judge import JudgeConfig, LabelConfig, instruction_from_prompt, label, load_rubric
from gorilla_rlaif.judge.base import JudgeStopped
from gorilla_rlaif.judge.openai_judge import read_question_answer, yes_no_mass
from gorilla_rlaif.llm import LLMSettings, MalformedAnswer, request_shape_param
from gorilla_rlaif.testing.openai_server import (
    LLAMA_CPP_PYTHON_REFUSAL,
    OpenAITestServer,
    ServerProfile,
    hash_policy,
    marker_alternatives,
)
from tests.helpers.candidates import write_candidates

RUBRIC = load_rubric()
JUDGED = "Answer to review"  # in every judge request, in no capability probe
N_QUESTIONS = len(RUBRIC.questions)


def config(tmp_path, server, mode="per-question", judge=None, **llm):
    base = {"base_url": server.base_url, "backoff_initial": 0.01, "timeout": 2.0, "concurrency": 8}
    return LabelConfig(
        candidates=str(tmp_path / "candidates.jsonl"),
        output=str(tmp_path / "feedback.jsonl"),
        judge=JudgeConfig(
            judge="openai:local-model",
            mode=mode,
            openai={"llm": LLMSettings(**{**base, **llm}), **(judge or {})},
        ),
    )


def rows_of(tmp_path):
    return [json.loads(line) for line in (tmp_path / "feedback.jsonl").read_text().splitlines()]


def meta_of(tmp_path):
    return json.loads((tmp_path / "feedback.meta.json").read_text())


def question_p(row, question) -> float:
    text = RUBRIC.per_question_prompt(instruction_from_prompt(row["prompt"]), row["completion"], question)
    return hash_policy(text)


def marker_expected(p: float, k: int) -> tuple[str, float]:
    """What the answer and P(yes) must be from the marker model's top-k alternatives, with the
    documented bound for a side that fell out of the top k."""
    top = marker_alternatives(p)[:k]
    probs = dict(top)
    yes, no = probs.get("yes", 0.0), probs.get("no", 0.0)
    bound = min(min(probs.values()), 1 - sum(probs.values()))
    if yes and no:
        p_yes = yes / (yes + no)
    elif yes:
        p_yes = yes / (yes + bound)
    else:
        p_yes = bound / (bound + no)
    return ("yes" if p_yes >= 0.5 else "no"), p_yes


# ---- reading one answer -------------------------------------------------------------------------
def _position(top: list[tuple[str, float]], chosen: str | None = None) -> dict:
    chosen = chosen or top[0][0]
    return {
        "token": chosen,
        "logprob": math.log(dict(top)[chosen]),
        "top_logprobs": [{"token": t, "logprob": math.log(p)} for t, p in top],
    }


def test_missing_side_is_bounded_by_the_kth_alternative_not_zero():
    # "No" is not among the 5 alternatives: P(no) <= P(5th) = 0.02 (and <= 1 - 0.92 = 0.08)
    top = [("Yes", 0.6), ("yes", 0.2), ("<<", 0.06), ("The", 0.04), ("I", 0.02)]
    mass = yes_no_mass(_position(top))
    assert mass.bounded == "no" and mass.total == pytest.approx(0.8)
    assert mass.p_yes == pytest.approx(0.8 / (0.8 + 0.02)) and mass.p_yes < 1.0
    # the other way round; and the leftover mass bounds too when the k alternatives hold nearly all
    top = [("No", 0.97), ("no", 0.02), ("<<", 0.005), ("x", 0.004), ("y", 0.0009)]
    mass = yes_no_mass(_position(top))
    leftover = 1 - sum(p for _, p in top)
    assert mass.bounded == "yes" and mass.p_yes == pytest.approx(leftover / (leftover + 0.99))
    # both present: the plain ratio, every casing and spacing of the words counted
    top = [(" yes", 0.3), ("No", 0.2), ("YES", 0.1), ("no.", 0.1), ("<<", 0.05)]
    assert yes_no_mass(_position(top)).p_yes == pytest.approx(0.4 / 0.7)
    assert yes_no_mass(_position([("<<", 0.5), ("The", 0.1)])).p_yes is None


def test_answer_source_top_token_logprob_mass_or_malformed():
    both = [("<<", 0.5), ("Yes", 0.1), ("No", 0.25), ("The", 0.05), ("<", 0.04)]
    read = read_question_answer("<<", [_position(both)], min_mass=0.02)
    assert (read.answer, read.source) == ("no", "logprob_mass") and read.p_yes == pytest.approx(0.1 / 0.35)
    read = read_question_answer("Yes", [_position(both, "Yes")], min_mass=0.02)
    assert (read.answer, read.source) == ("no", "logprob_mass")  # the masses decide, not the reply
    agree = [("Yes", 0.7), ("No", 0.2), ("The", 0.05)]
    read = read_question_answer("Yes", [_position(agree)], min_mass=0.02)
    assert (read.answer, read.source) == ("yes", "top_token") and read.mass == pytest.approx(0.9)
    # the top token says yes, but "no" + "No" outweigh the single "Yes": the larger mass answers
    split = [("Yes", 0.3), ("No", 0.25), ("no", 0.2), ("<<", 0.1)]
    assert read_question_answer("Yes", [_position(split)], min_mass=0.02).answer == "no"
    # too little mass: malformed, saying how much and which flag sets the minimum
    faint = [("<<", 0.8), ("The", 0.1), ("Yes", 0.01), ("I", 0.005), ("A", 0.004)]
    with pytest.raises(MalformedAnswer, match=r"yes\+no hold 1\.0%.*minimum 5\.0%, --min-yes-no-mass"):
        read_question_answer("<<", [_position(faint)], min_mass=0.05)
    assert read_question_answer("<<", [_position(faint)], min_mass=0.005).answer == "yes"
    # without logprobs only the top token can answer
    assert read_question_answer(" yes.", None, 0.02).source == "top_token"
    with pytest.raises(MalformedAnswer, match="no logprobs"):
        read_question_answer("<<", None, 0.02)


def test_request_shape_errors_are_told_from_transient_and_per_row_ones():
    assert request_shape_param(500, LLAMA_CPP_PYTHON_REFUSAL) == "response_format"
    assert request_shape_param(500, "The server had an error while processing your request") is None
    assert request_shape_param(503, "CUDA out of memory while computing logprobs") is None
    assert request_shape_param(400, "Unrecognized request argument supplied: top_logprobs") == "top_logprobs"
    assert request_shape_param(400, "logprobs is not supported by this model") == "logprobs"
    assert request_shape_param(422, "1 validation error: messages.0.role Field required") == "request"
    assert (
        request_shape_param(400, "Invalid 'response_format': json_schema is not supported")
        == "response_format"
    )
    # a prompt too long for the model is that row's problem, whatever else the body says
    assert (
        request_shape_param(400, "This model's maximum context length is 2048 tokens (max_tokens...)") is None
    )
    assert request_shape_param(429, "Input should be slower") is None


# ---- rejects-json-schema --------------------------------------------------------------------------
def test_rejects_json_schema_negotiates_json_object_with_schema_once(tmp_path):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=3, per_prompt=2)
    with OpenAITestServer(profile="rejects-json-schema") as server:
        summary = label(config(tmp_path, server, mode="rubric"), progress=False)
        assert summary["ok"] == len(candidates) and summary["failed"] == 0
        # probes: logprobs; json_schema refused once (never retried); json_object + schema accepted
        # and enforced (timing not measured: answers take under 50 ms). Then one request per row.
        assert server.statuses["refused"] == 1
        run = summary["run"]
        assert run["retries"] == 0 and run["reasks"] == 0
        assert server.requests_total == run["probes"] + len(candidates)
        caps = meta_of(tmp_path)["server_capabilities"]
        assert caps["response_format"] == "json_object_schema" and caps["logprobs"] is True
        assert [p["what"] for p in caps["probes"]][:3] == [
            "logprobs with top_logprobs=5",
            "response_format=json_schema with logprobs",
            "response_format=json_object_schema with logprobs",
        ]
        assert "Input should be 'text' or 'json_object'" in caps["probes"][1]["outcome"]
        rows = rows_of(tmp_path)
        assert {r["judge"]["response_format"] for r in rows} == {"json_object_schema"}
        for row in rows:
            text = RUBRIC.rubric_prompt(instruction_from_prompt(row["prompt"]), row["completion"])
            for q in RUBRIC.ids:
                p = hash_policy(f"{q}\n{text}")
                assert row["answers"][q] == ("yes" if p >= 0.5 else "no")
                assert row["p_yes"][q] == pytest.approx(p, abs=1e-3)
            assert set(row["answer_sources"].values()) == {"json"}
        # a second run over the same output: no probe (the decision is cached with the run), no request
        server.reset_counts()
        label(config(tmp_path, server, mode="rubric"), progress=False)
        assert server.requests_total == 0


def test_explicit_json_schema_on_a_server_that_refuses_it_stops_at_once_naming_the_flag(tmp_path):
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=3, per_prompt=2)
    with OpenAITestServer(profile="rejects-json-schema") as server:
        cfg = config(tmp_path, server, mode="rubric", judge={"response_format": "json_schema"}, concurrency=1)
        with pytest.raises(JudgeStopped) as info:
            label(cfg, progress=False)
        assert server.statuses["refused"] == 1  # one refused request: not retried, no other row asked
    message = str(info.value)
    assert "refused the shape of the request (response_format)" in message
    assert "--response-format auto" in message and "Input should be 'text' or 'json_object'" in message
    meta = meta_of(tmp_path)
    assert meta["status"] == "stopped" and "response_format" in meta["stopped"]


def test_json_object_without_schema_invents_keys_and_the_breaker_stops_the_run(tmp_path):
    """Plain JSON mode on a server whose model invents its own keys: every row is malformed, and
    after 3 such rows in a row the run stops with the reason instead of asking every row."""
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=6, per_prompt=3)
    with OpenAITestServer(profile="rejects-json-schema") as server:
        cfg = config(
            tmp_path,
            server,
            mode="rubric",
            judge={"response_format": "json_object", "max_consecutive_failures": 3},
            concurrency=1,
            max_malformed_retries=1,
        )
        with pytest.raises(JudgeStopped, match=r"3 rows in a row failed the same way \(malformed\)") as info:
            label(cfg, progress=False)
        judged = server.requests_total
    assert "--response-format auto" in str(info.value) and "Nothing is lost" in str(info.value)
    rows = rows_of(tmp_path)
    assert len(rows) == 3 < len(candidates) and all(r["status"] == "failed" for r in rows)
    assert judged == 1 + 3 * 2  # the logprob probe, then 3 rows of (1 request + 1 re-ask)
    assert all(r["usage"]["reasks"] == 1 and r["usage"]["requests"] == 2 for r in rows)
    assert "answers do not match the rubric" in rows[0]["error"]


# ---- marker-top-token ---------------------------------------------------------------------------
def test_marker_top_token_answers_from_the_logprob_mass_one_request_per_question(tmp_path):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=4, per_prompt=3)
    with OpenAITestServer(profile="marker-top-token") as server:
        summary = label(config(tmp_path, server), progress=False)
        probes = summary["run"]["probes"]
        assert server.requests_total == probes + N_QUESTIONS * len(candidates)  # no re-ask at all
    assert summary["failed"] == 0 and summary["run"]["reasks"] == 0
    bounded = 0
    for row in rows_of(tmp_path):
        assert set(row["raw"].values()) == {"<<"}  # the top token was never yes or no...
        assert set(row["answer_sources"].values()) == {"logprob_mass"}  # ...the masses answered
        for q in RUBRIC.questions:
            p = question_p(row, q)
            answer, p_yes = marker_expected(p, 5)
            assert row["answers"][q.id] == answer
            assert row["p_yes"][q.id] == pytest.approx(p_yes, rel=1e-6)
            assert 0.0 < row["p_yes"][q.id] < 1.0
            bounded += "yes" not in dict(marker_alternatives(p)[:5])
            assert row["yes_no_mass"][q.id] <= 0.3 + 1e-9
        assert row["usage"]["requests"] == N_QUESTIONS and row["usage"]["reasks"] == 0
    assert bounded >= 1  # some questions had "yes" outside the top 5: its probability was bounded


def test_without_logprobs_the_marker_model_is_reasked_once_with_a_changed_request(tmp_path):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=2)
    with OpenAITestServer(profile="marker-top-token") as server:
        summary = label(config(tmp_path, server, judge={"top_logprobs": 0}, concurrency=1), progress=False)
        assert server.requests_total == 2 * N_QUESTIONS * len(candidates)  # no probe needed, 1 re-ask each
        assert max(server.bodies.values()) == 1  # never the identical request twice
    assert summary["failed"] == 0 and summary["run"]["reasks"] == N_QUESTIONS * len(candidates)
    for row in rows_of(tmp_path):
        assert set(row["answer_sources"].values()) == {"reask"} and row["usage"]["reasks"] == N_QUESTIONS
        assert row["answers"] == {
            q.id: "yes" if question_p(row, q) >= 0.5 else "no" for q in RUBRIC.questions
        }
        assert set(row["p_yes"].values()) == {None} and row["weighted_score"] is None


def test_reasks_of_a_stubborn_deterministic_model_are_bounded_distinct_and_counted(tmp_path):
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=3)
    stubborn = ServerProfile("stubborn", top_token="marker", reask_helps=False)
    with OpenAITestServer(profile=stubborn) as server:
        cfg = config(
            tmp_path,
            server,
            judge={"top_logprobs": 0, "max_consecutive_failures": 2},
            max_malformed_retries=2,
        )
        with pytest.raises(JudgeStopped, match="malformed"):
            label(cfg, progress=False)
        bodies = [json.loads(b) for b in server.seen_bodies if JUDGED in b]
    assert max(server.bodies.values()) == 1  # every request differs from every other
    rows = rows_of(tmp_path)
    assert rows and all(r["status"] == "failed" and r["usage"]["reasks"] == 2 * N_QUESTIONS for r in rows)
    # round 0 at temperature 0; round 1 adds the stricter instruction; round 2 also samples, seeded
    first = [b for b in bodies if len(b["messages"]) == 2]
    later = [b for b in bodies if len(b["messages"]) == 4]
    assert {b["temperature"] for b in first} == {0.0} and all("seed" not in b for b in first)
    assert {(b["temperature"], "seed" in b) for b in later} == {(0.0, False), (0.7, True)}
    assert all("exactly one word" in b["messages"][-1]["content"] for b in later)
    assert len(first) * 3 == len(bodies)


def test_a_server_without_logprobs_answers_from_the_top_token(tmp_path):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=2)
    for profile in ("no-logprobs", "refuses-logprobs"):
        out = tmp_path / profile
        out.mkdir()
        (out / "candidates.jsonl").write_text((tmp_path / "candidates.jsonl").read_text())
        with OpenAITestServer(profile=profile) as server:
            summary = label(config(out, server), progress=False)
            assert server.statuses.get("refused", 0) == (1 if profile == "refuses-logprobs" else 0)
            assert server.requests_total == summary["run"]["probes"] + N_QUESTIONS * len(candidates)
        caps = meta_of(out)["server_capabilities"]
        assert caps["logprobs"] is False
        rows = rows_of(out)
        assert all(r["status"] == "ok" and r["judge"]["top_logprobs"] == 0 for r in rows)
        assert {s for r in rows for s in r["answer_sources"].values()} == {"top_token"}
        assert all(r["weighted_score"] is None for r in rows)


# ---- one-at-a-time --------------------------------------------------------------------------------
def test_one_at_a_time_server_is_detected_and_sent_one_request_at_a_time(tmp_path):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=2)
    with OpenAITestServer(profile="one-at-a-time", latency=0.02, latency_per_token=0.01) as server:
        summary = label(config(tmp_path, server, concurrency=8, timeout=5.0), progress=False)
        assert server.max_processing == 1  # the server never worked on two requests at once
        probes = summary["run"]["probes"]
        assert server.requests_total == probes + N_QUESTIONS * len(candidates)
        assert max(server.bodies.values()) == 1 and summary["run"]["retries"] == 0
    caps = meta_of(tmp_path)["server_capabilities"]
    assert caps["parallel"] is False and "one at a time" in caps["probes"][-1]["outcome"]
    assert summary["failed"] == 0


def test_parallel_server_keeps_its_concurrency(tmp_path):
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=2)
    with OpenAITestServer(latency=0.02, latency_per_token=0.01) as server:
        label(config(tmp_path, server, concurrency=8), progress=False)
        assert server.max_processing > 1
    assert meta_of(tmp_path)["server_capabilities"]["parallel"] is True


def test_one_at_a_time_server_with_a_short_timeout_stops_with_the_hint(tmp_path):
    """With concurrency 1 pinned by the user (so nothing is measured) and a timeout shorter than
    one answer, every row times out: the breaker stops the run and names the two settings."""
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=3, per_prompt=3)
    with OpenAITestServer(profile="one-at-a-time", latency=0.3) as server:
        cfg = config(
            tmp_path,
            server,
            judge={"top_logprobs": 0, "max_consecutive_failures": 2},
            concurrency=1,
            timeout=0.1,
            max_retries=0,
        )
        with pytest.raises(JudgeStopped, match=r"\(timeout\)") as info:
            label(cfg, progress=False)
    assert "--timeout" in str(info.value) and "--concurrency" in str(info.value)
    assert len(rows_of(tmp_path)) == 2


# ---- the breaker is resumable ---------------------------------------------------------------------
def test_breaker_stop_loses_nothing_and_a_rerun_goes_on(tmp_path):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=4, per_prompt=3)
    with OpenAITestServer() as server:
        for c in candidates[3:6]:  # three rows in a row whose every request fails
            server.inject("500", 10_000, match=json.dumps(c["completion"], ensure_ascii=False)[1:-1])
        cfg = config(tmp_path, server, judge={"max_consecutive_failures": 3}, concurrency=1, max_retries=0)
        with pytest.raises(JudgeStopped, match=r"\(http_500\)"):
            label(cfg, progress=False)
        rows = rows_of(tmp_path)
        assert [r["status"] for r in rows][:3] == ["ok", "ok", "ok"] and len(rows) < len(candidates)
        server._faults.clear()
        answered_before = dict(server.bodies)
        retry = config(
            tmp_path,
            server,
            judge={"max_consecutive_failures": 3},
            concurrency=1,
            max_retries=0,
            retry_failed=True,
        )
        summary = label(retry, progress=False)
        assert summary["ok"] == len(candidates) and summary["failed"] == 0
        # nothing answered before was asked again
        assert all(server.bodies[k] == n for k, n in answered_before.items())
        assert max(server.bodies.values()) == 1


# ---- llama-cpp-python: all of it at once ----------------------------------------------------------
@pytest.mark.parametrize("mode", ["per-question", "rubric"])
def test_llama_cpp_python_profile_labels_every_row_in_both_modes(tmp_path, mode):
    candidates = write_candidates(tmp_path / "candidates.jsonl", n_prompts=3, per_prompt=3)
    with OpenAITestServer(profile="llama-cpp-python", latency=0.02, latency_per_token=0.01) as server:
        summary = label(config(tmp_path, server, mode=mode, timeout=5.0), progress=False)
        per_row = N_QUESTIONS if mode == "per-question" else 1
        assert server.requests_total == summary["run"]["probes"] + per_row * len(candidates)
        assert server.max_processing == 1 and summary["run"]["retries"] == 0
    assert summary["ok"] == len(candidates) and summary["failed"] == 0
    caps = meta_of(tmp_path)["server_capabilities"]
    assert caps["parallel"] is False and caps["logprobs"] is True
    if mode == "rubric":
        assert caps["response_format"] == "json_object_schema"
    else:
        assert summary["answer_sources"] == {"logprob_mass": N_QUESTIONS * len(candidates)}


# ---- the command line ---------------------------------------------------------------------------
def test_cli_stops_with_one_line_naming_the_flag_and_accepts_the_new_settings(tmp_path, capsys, caplog):
    from gorilla_rlaif.cli import rlaif_main

    caplog.set_level(logging.INFO, logger="gorilla_rlaif")
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=2, per_prompt=2)
    common = [
        "label", str(tmp_path / "candidates.jsonl"), "--judge", "openai:local-model", "--mode", "rubric",
        "--concurrency", "1", "--no-progress",
    ]  # fmt: skip
    with OpenAITestServer(profile="rejects-json-schema") as server:
        url = ["--base-url", server.base_url]
        code = rlaif_main(
            [*common, *url, "-o", str(tmp_path / "a.jsonl"), "--response-format", "json_schema"]
        )
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err
        assert "gorilla-rlaif: error:" in err and "--response-format auto" in err
        code = rlaif_main(
            [
                *common,
                *url,
                "-o",
                str(tmp_path / "b.jsonl"),
                "--min-yes-no-mass",
                "0.1",
                "--max-consecutive-failures",
                "2",
            ]
        )
        assert code == 0
    assert "response_format=json_object_schema, logprobs=yes" in caplog.text  # the negotiated mode is logged
    rows = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)

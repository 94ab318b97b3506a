"""Feedback -> versioned dataset: `load_dataset` round trips, pairing, splits, card, Hub push.

The push tests talk to tests/helpers/hub_server.py: a local MOCK of the Hub's HTTP API (the real
Hub is unreachable here), reached over real HTTP by huggingface_hub through HF_ENDPOINT.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from gorilla_rlaif.artifacts import FeedbackRow
from gorilla_rlaif.errors import ConfigError, DataError
from gorilla_rlaif.io import write_jsonl
from gorilla_rlaif.judge import JudgeConfig, LabelConfig, label, load_rubric
from gorilla_rlaif.llm import LLMSettings
from gorilla_rlaif.publish import PublishConfig, build_dataset, preference_pairs, split_prompts
from gorilla_rlaif.testing.openai_server import OpenAITestServer
from tests.helpers.candidates import write_candidates
from tests.helpers.hub_server import HubStandIn

RUBRIC = load_rubric()
JUDGE = {
    "backend": "openai",
    "model": "gpt-4o-mini",
    "mode": "per-question",
    "settings_hash": "h1",
    **RUBRIC.describe(),
}


def fb_row(prompt_id, k, score, status="ok", judge=JUDGE):
    answers = {}
    for i, q in enumerate(RUBRIC.questions):
        good = i < score
        answers[q.id] = q.desirable if good else ("no" if q.desirable == "yes" else "yes")
    row = {
        "id": f"{prompt_id}#{k}",
        "prompt_id": prompt_id,
        "prompt": f"###Instruction: task {prompt_id}\n###Output:",
        "completion": f" answer {prompt_id}-{k}",
        "status": status,
        "error": None if status == "ok" else "request failed after 7 attempt(s): HTTP 500",
        "score": score if status == "ok" else None,
        "max_score": 8,
        "weighted_score": None,
        "answers": answers if status == "ok" else dict.fromkeys(answers),
        "p_yes": dict.fromkeys(answers),
        "judge": judge,
        "usage": {"requests": 8, "cached_requests": 0, "prompt_tokens": 800, "completion_tokens": 8},
        "cost_usd": 0.0001,
    }
    return row


SCORES = {
    f"p{i}": s
    for i, s in enumerate([[8, 6, 6, 3], [5, 5], [7, 2, 4], [1], [6, 0, 8], [3, 3, 3], [8, 7], [2, 5]])
}


def write_feedback(path, failed=("p2#1",)):
    rows = []
    for pid, scores in SCORES.items():
        for k, s in enumerate(scores):
            rid = f"{pid}#{k}"
            rows.append(fb_row(pid, k, s, "failed" if rid in failed else "ok"))
    write_jsonl(path, rows)
    return rows


def publish_config(tmp_path, **kw):
    base = {
        "feedback": [str(tmp_path / "feedback.jsonl")],
        "output_dir": str(tmp_path / "ds"),
        "version": "0.1.0",
    }
    return PublishConfig(**{**base, **kw})


def load(directory, name):
    from datasets import load_dataset

    return load_dataset(str(directory), name)


def test_round_trip_of_all_three_configs(tmp_path):
    rows = write_feedback(tmp_path / "feedback.jsonl")
    record = build_dataset(publish_config(tmp_path, test_fraction=0.25, threshold=6))
    prefs, binary, feedback = (load(tmp_path / "ds", c) for c in ("preferences", "binary", "feedback"))

    assert prefs["train"].column_names == [
        "prompt_id",
        "prompt",
        "chosen",
        "rejected",
        "score_chosen",
        "score_rejected",
    ]
    assert binary["train"].column_names == [
        "id",
        "prompt_id",
        "prompt",
        "completion",
        "label",
        "score",
        "answers",
    ]
    assert {"status", "error", "answers", "p_yes", "cost_usd", "raw"} <= set(feedback["train"].column_names)

    ok = [r for r in rows if r["status"] == "ok"]
    assert len(feedback["train"]) + len(feedback["test"]) == len(rows) == 20
    assert len(binary["train"]) + len(binary["test"]) == len(ok) == 19
    # best-vs-worst, margin 1: every prompt whose ok scores differ (p1 5/5, p3 one row, p5 3/3/3 do not)
    assert len(prefs["train"]) + len(prefs["test"]) == 5
    for split in ("train", "test"):
        for pair in prefs[split]:
            assert pair["score_chosen"] > pair["score_rejected"]
            assert pair["prompt"].startswith("###Instruction:") and pair["chosen"].startswith(" answer")
            scores = [
                s for k, s in enumerate(SCORES[pair["prompt_id"]]) if f"{pair['prompt_id']}#{k}" != "p2#1"
            ]
            assert (pair["score_chosen"], pair["score_rejected"]) == (max(scores), min(scores))
        for row in binary[split]:
            assert row["label"] == (row["score"] >= 6)
            assert sum(row["answers"][q.id] == q.desirable for q in RUBRIC.questions) == row["score"]
    failed = [r for s in ("train", "test") for r in feedback[s] if r["status"] == "failed"]
    assert (
        [r["id"] for r in failed] == ["p2#1"]
        and failed[0]["score"] is None
        and "HTTP 500" in failed[0]["error"]
    )
    assert record["counts"]["binary"]["train"] + record["counts"]["binary"]["test"] == 19
    assert record["stats"]["score_histogram"]["8"] == 3 and record["stats"]["failed"] == 1


def test_split_is_by_prompt_seeded_and_shared_by_all_configs(tmp_path):
    write_feedback(tmp_path / "feedback.jsonl")
    build_dataset(publish_config(tmp_path, test_fraction=0.25, seed=1))
    splits = {}
    for name in ("preferences", "binary", "feedback"):
        data = load(tmp_path / "ds", name)
        train, test = set(data["train"]["prompt_id"]), set(data["test"]["prompt_id"])
        assert not train & test
        splits[name] = test
    assert splits["binary"] == splits["feedback"] and splits["preferences"] <= splits["feedback"]
    assert len(splits["feedback"]) == 2  # 25% of 8 prompts
    ids = list(SCORES)
    assert split_prompts(ids, 0.25, 1) == split_prompts(list(reversed(ids)), 0.25, 1)
    assert any(split_prompts(ids, 0.25, s) != split_prompts(ids, 0.25, 1) for s in range(2, 6))


def test_pairing_strategies_and_margin():
    rows = [FeedbackRow.model_validate(fb_row("p", k, s)) for k, s in enumerate([8, 6, 6, 3])]
    assert [(p["score_chosen"], p["score_rejected"]) for p in preference_pairs(rows, "best-vs-worst", 1)] == [
        (8, 3)
    ]
    all_pairs = preference_pairs(rows, "all-pairs", 1)
    assert sorted((p["score_chosen"], p["score_rejected"]) for p in all_pairs) == [
        (6, 3),
        (6, 3),
        (8, 3),
        (8, 6),
        (8, 6),
    ]
    assert len(preference_pairs(rows, "all-pairs", 3)) == 3
    assert preference_pairs(rows, "best-vs-worst", 6) == []
    ties = [FeedbackRow.model_validate(fb_row("q", k, 4)) for k in range(3)]
    assert preference_pairs(ties, "all-pairs", 1) == []


def test_a_rebuilt_directory_never_loads_stale_rows(tmp_path):
    # `datasets` caches a local directory by its name and README config block, not its files:
    # two builds with the same shape but different labels must still load differently.
    write_feedback(tmp_path / "feedback.jsonl")
    build_dataset(publish_config(tmp_path))
    first = load(tmp_path / "ds", "binary")
    rows = write_feedback(tmp_path / "feedback.jsonl")
    rows[0] = fb_row("p0", 0, 1)  # one label changes; same counts, same file sizes or nearly
    write_jsonl(tmp_path / "feedback.jsonl", rows)
    other = tmp_path / "elsewhere"
    build_dataset(publish_config(tmp_path, output_dir=str(other / "ds")))
    second = load(other / "ds", "binary")
    scores = lambda d: sorted(r["score"] for s in ("train", "test") for r in d[s])  # noqa: E731
    assert scores(first) != scores(second) and 1 in scores(second)


def test_a_single_prompt_dataset_still_loads(tmp_path):
    write_jsonl(tmp_path / "feedback.jsonl", [fb_row("only", 0, 7), fb_row("only", 1, 2)])
    build_dataset(publish_config(tmp_path))
    prefs = load(tmp_path / "ds", "preferences")
    assert list(prefs) == ["train"] and len(prefs["train"]) == 1  # an empty split is left out


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("completion"), r"feedback\.jsonl:3: completion: Field required"),
        (lambda r: r.update(score=9), r"feedback\.jsonl:3: score 9 is outside 0\.\.8"),
        (lambda r: r.update(score="7"), r"feedback\.jsonl:3: score: Input should be a valid integer"),
        (
            lambda r: r["answers"].update(imports="maybe"),
            r"feedback\.jsonl:3: answers\.imports: Input should be 'yes' or 'no'",
        ),
        (lambda r: r.update(status="done"), r"feedback\.jsonl:3: status: Input should be 'ok' or 'failed'"),
        (
            lambda r: r.update(status="failed", error=None),
            r"feedback\.jsonl:3: a failed row needs its 'error' reason",
        ),
        (
            lambda r: r.update(id="p0#0"),
            r"feedback\.jsonl:3: duplicate id 'p0#0' \(also at .*feedback\.jsonl:1\)",
        ),
        (
            lambda r: r.update(judge={**JUDGE, "settings_hash": "h2"}),
            r"feedback\.jsonl:3: row judged with other settings",
        ),
    ],
)
def test_bad_feedback_rows_give_clear_errors(tmp_path, mutate, message):
    rows = write_feedback(tmp_path / "feedback.jsonl")
    mutate(rows[2])
    write_jsonl(tmp_path / "feedback.jsonl", rows)
    with pytest.raises(DataError, match=message):
        build_dataset(publish_config(tmp_path))
    assert not (tmp_path / "ds").exists()  # nothing half-written


def test_existing_directory_and_bad_version_are_refused(tmp_path):
    write_feedback(tmp_path / "feedback.jsonl")
    build_dataset(publish_config(tmp_path))
    with pytest.raises(ConfigError, match="--overwrite"):
        build_dataset(publish_config(tmp_path))
    build_dataset(publish_config(tmp_path, version="0.1.1", overwrite=True))
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        publish_config(tmp_path, version="1.0")


def test_card_from_a_real_labeling_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-card-SECRET-0123456789")
    monkeypatch.setenv("HF_TOKEN", "hf_cardSECRET0123456789")
    write_candidates(tmp_path / "candidates.jsonl", n_prompts=4, per_prompt=3)
    with OpenAITestServer() as server:
        label(
            LabelConfig(
                candidates=str(tmp_path / "candidates.jsonl"),
                output=str(tmp_path / "feedback.jsonl"),
                judge=JudgeConfig(
                    judge="openai:gpt-4o-mini", openai={"llm": LLMSettings(base_url=server.base_url)}
                ),
            ),
            progress=False,
        )
    record = build_dataset(publish_config(tmp_path, push_to_hub="me/gorilla-feedback", test_fraction=0.25))
    card = (tmp_path / "ds" / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert [c["config_name"] for c in front["configs"]] == ["preferences", "binary", "feedback"]
    assert front["configs"][0]["data_files"][0] == {"split": "train", "path": "preferences/train-*"}
    assert front["license"] == "apache-2.0"
    assert 'load_dataset("me/gorilla-feedback", "preferences", revision="v0.1.0")' in card
    assert (
        "openai:gpt-4o-mini" in card and RUBRIC.hash in card and "arXiv:2305.15334" in card.replace(" ", "")
    )
    for q in RUBRIC.questions:
        assert q.text in card
    total = record["stats"]["rows"]
    assert f"{total} judged candidates for 4 prompts" in card
    assert re.search(r"Judging cost: \$\d+\.\d{4}", card)
    assert "sk-card-SECRET" not in card and "hf_cardSECRET" not in card
    assert (tmp_path / "ds" / "score_histogram.png").read_bytes()[:4] == b"\x89PNG"
    prov = json.loads((tmp_path / "ds" / "gorilla_rlaif.meta.json").read_text())
    assert set(prov["files"]) == {
        f"{c}/{s}-00000-of-00001.parquet"
        for c in ("preferences", "binary", "feedback")
        for s in ("train", "test")
    }
    assert prov["feedback_meta"][0]["rubric_hash"] == RUBRIC.hash


def _cli(args, env):
    return subprocess.run(
        [sys.executable, "-m", "gorilla_rlaif.cli", "rlaif", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_push_to_the_hub_tags_the_release(tmp_path):
    """MOCK Hub: tests/helpers/hub_server.py stands in for huggingface.co over real HTTP."""
    write_feedback(tmp_path / "feedback.jsonl")
    token = "hf_pushSECRET0123456789abcdef"
    with HubStandIn(token=token, echo_auth_on_error=True) as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token, "HF_HUB_OFFLINE": "0"}
        base = ["preferences", str(tmp_path / "feedback.jsonl"), "--output-dir", str(tmp_path / "ds")]
        proc = _cli([*base, "--version", "0.1.0", "--push-to-hub", "me/gorilla-feedback"], env)
        assert proc.returncode == 0, proc.stderr
        assert "pushed me/gorilla-feedback v0.1.0" in proc.stdout
        assert token not in proc.stdout + proc.stderr
        # every authenticated call used HF_TOKEN (huggingface_hub also makes one anonymous
        # GET /api/agent-harnesses, a client feature probe unrelated to the push)
        assert {h for h in hub.auth_headers if h} == {f"Bearer {token}"}
        assert all(ok for method, path, ok in hub.auth_by_request if "agent-harnesses" not in path)

        tagged = hub.files_at("me/gorilla-feedback", "v0.1.0")
        local = {
            str(p.relative_to(tmp_path / "ds")): p.read_bytes()
            for p in (tmp_path / "ds").rglob("*")
            if p.is_file()
        }
        assert {k: v for k, v in tagged.items() if k != ".gitattributes"} == local
        assert len(hub.validated_yaml) == 1  # the card's metadata passed the Hub's validation endpoint

        # the same version again: refused, nothing moved, no token in the message
        again = _cli(
            [*base, "--overwrite", "--push-to-hub", "me/gorilla-feedback", "--version", "0.1.0"], env
        )
        assert again.returncode == 2 and "already has a release v0.1.0" in again.stderr
        # a new version is a new commit and tag; v0.1.0 still points at the old files
        newer = _cli(
            [
                *base,
                "--overwrite",
                "--threshold",
                "3",
                "--push-to-hub",
                "me/gorilla-feedback",
                "--version",
                "0.2.0",
            ],
            env,
        )
        assert newer.returncode == 0, newer.stderr
        assert hub.commit_of("me/gorilla-feedback", "v0.2.0") != hub.commit_of(
            "me/gorilla-feedback", "v0.1.0"
        )
        assert hub.files_at("me/gorilla-feedback", "v0.1.0") == tagged

        # a bad token: the Hub's error (which echoes the credentials) reaches the user redacted
        bad = _cli(
            [*base, "--overwrite", "--push-to-hub", "me/other", "--version", "0.1.0"],
            {**env, "HF_TOKEN": "hf_wrongTOKEN0123456789"},
        )
        assert bad.returncode == 2 and "401" in bad.stderr
        assert "hf_wrongTOKEN" not in bad.stderr + bad.stdout

        # what users run: load_dataset(REPO, CONFIG, revision=TAG), here against the stand-in
        script = (
            "import datasets, json; out = {}\n"
            "for rev in ('v0.1.0', 'v0.2.0'):\n"
            "    d = datasets.load_dataset('me/gorilla-feedback', 'binary', revision=rev)\n"
            "    out[rev] = sum(sum(d[s]['label']) for s in d)\n"
            "p = datasets.load_dataset('me/gorilla-feedback', 'preferences', revision='v0.1.0')\n"
            "out['pairs'] = sum(len(p[s]) for s in p)\n"
            "print(json.dumps(out))"
        )
        load_env = {**env, "HF_DATASETS_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf-home")}
        loaded = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=load_env, timeout=120
        )
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        counts = json.loads(loaded.stdout.strip().splitlines()[-1])
    # threshold 7 (v0.1.0) vs 3 (v0.2.0) over the 19 answered rows; best-vs-worst pairs of 5 prompts
    assert counts == {"v0.1.0": 5, "v0.2.0": 16, "pairs": 5}

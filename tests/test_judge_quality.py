"""`gorilla-rlaif judge-report`: a judge's answers against the answers that can be checked.

Feedback files from all three judges are measured: the rules judge (code run in the real local
sandbox), an OpenAI-compatible judge on the loopback server whose P(yes) is set by the test (so
accuracy, Brier score and calibration error have exact expected values), and the `hf:` judge with
the tiny model (probabilities, a weighted score).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gorilla_rlaif.data import build_prompt, format_target, parse_completion
from gorilla_rlaif.eval.judge_quality import (
    JudgeReportConfig,
    calibration,
    judge_report,
    question_stats,
    score_vs_execution,
    static_truth,
)
from gorilla_rlaif.io import read_jsonl, write_jsonl
from gorilla_rlaif.judge import JudgeConfig, LabelConfig, label
from gorilla_rlaif.llm import LLMSettings
from gorilla_rlaif.testing.openai_server import OpenAITestServer
from tests.helpers.candidates import gold_records
from tests.helpers.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

CONFIG = JudgeReportConfig(feedback="f.jsonl", output_dir="out", bootstrap=200)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "import torch\nmodel = torch.hub.load('a', 'b')",
            {"syntax": True, "imports": True, "undefined_names": False},
        ),
        ("model = torch.hub.load('a', 'b')", {"syntax": True, "imports": False, "undefined_names": True}),
        ("import torch\nprint(image_size)", {"syntax": True, "imports": True, "undefined_names": True}),
        ("import torch\nx = Image.open(path)", {"syntax": True, "imports": False, "undefined_names": True}),
        (
            "import torch\nmodel = torch.hub.load('a', 'b'",
            {"syntax": False, "imports": None, "undefined_names": None},
        ),
        ("", {"syntax": False, "imports": None, "undefined_names": None}),
        (None, {"syntax": False, "imports": None, "undefined_names": None}),
    ],
)
def test_static_ground_truth(code, expected):
    assert static_truth(code) == expected


def test_statistics_on_inputs_with_known_answers():
    # judge (yes?) vs truth (yes?): 3 true yes, 1 false yes, 1 missed yes, 5 true no
    pairs = [(True, True)] * 3 + [(True, False)] + [(False, True)] + [(False, False)] * 5
    stats = question_stats(pairs, CONFIG)
    assert stats["n"] == 10 and stats["accuracy"]["value"] == pytest.approx(0.8)
    assert stats["precision_yes"] == pytest.approx(0.75) and stats["recall_yes"] == pytest.approx(0.75)
    assert stats["majority_baseline"] == pytest.approx(0.6)
    assert stats["kappa"] == pytest.approx((0.8 - 0.52) / 0.48)  # chance agreement 0.4*0.4 + 0.6*0.6
    # perfectly calibrated bins: ECE 0; always 0.9 for a 50/50 truth: ECE 0.4, Brier 0.41
    perfect = calibration(
        [0.25] * 4 + [0.75] * 4, [True, False, False, False, True, True, True, False], bins=2
    )
    assert perfect["ece"] == pytest.approx(0.0)
    sure = calibration([0.9] * 10, [True] * 5 + [False] * 5, bins=10)
    assert sure["ece"] == pytest.approx(0.4) and sure["brier"] == pytest.approx(0.41)
    # a score that separates running from failing code perfectly: AUC 1; a constant score: 0.5
    separated = score_vs_execution([8, 8, 7, 3, 2], [True, True, True, False, False], CONFIG)
    assert separated["auc"] == pytest.approx(1.0) and separated["spearman"] > 0.8
    assert separated["by_score"]["8"] == {"n": 2, "executability": 1.0}
    constant = score_vs_execution([5, 5, 5, 5], [True, False, True, False], CONFIG)
    assert constant["auc"] == pytest.approx(0.5) and constant["spearman"] is None
    assert score_vs_execution([5, 6], [True, True], CONFIG)["auc"] is None  # one class only


def _candidates(n_prompts: int = 5) -> list[dict]:
    """Per prompt: the gold answer, its code with a syntax error, and one calling a made-up API."""
    rows = []
    for record in gold_records("torchhub", 40)[:n_prompts]:
        gold = format_target(record.output)
        broken = gold.replace(record.output.code, record.output.code.rstrip() + "\nprint((")
        call = "torch.hub.load('nobody/nothing', 'made_up_model')"
        made_up = gold.replace(record.output.code, f"import torch\nmodel = {call}").replace(
            record.output.api_call, call
        )
        for k, completion in enumerate((gold, broken, made_up)):
            rows.append(
                {
                    "id": f"{record.id}#{k}",
                    "prompt_id": record.id,
                    "prompt": build_prompt(record.instruction, record.input),
                    "completion": completion,
                    "hub": "torchhub",
                    "reference": {"api_call": record.api_data.api_call, "domain": record.api_data.domain},
                }
            )
    return rows


def test_rules_judge_report_end_to_end_in_the_local_sandbox(tmp_path, capsys):
    from gorilla_rlaif.cli import rlaif_main

    write_jsonl(tmp_path / "c.jsonl", _candidates())
    label(LabelConfig(candidates=str(tmp_path / "c.jsonl"), output=str(tmp_path / "f.jsonl")), progress=False)
    assert rlaif_main(["judge-report", str(tmp_path / "f.jsonl"), "bootstrap=200", "--no-progress"]) == 0
    out_dir = tmp_path / "f.judge-report"
    printed = capsys.readouterr().out
    assert "| syntax | compile | 15 |" in printed and "ROC AUC" in printed
    summary = json.loads((out_dir / "judge_quality.json").read_text())
    q = summary["questions"]
    assert summary["rows"] == 15 and summary["executed"] == 15
    # every third candidate has a syntax error; both the truth and the rules judge see it
    assert q["syntax"]["truth_yes_rate"] == pytest.approx(10 / 15) and q["syntax"]["accuracy"]["value"] == 1.0
    # the rules judge answers api_exists with the same AST matcher: agreement by construction
    assert q["api_exists"]["accuracy"]["value"] == 1.0
    # the made-up API is not in the database
    assert q["api_exists"]["truth_yes_rate"] == pytest.approx(10 / 15)
    assert q["complete"]["truth"] is None  # no checkable answer
    rows = [row for _, row in read_jsonl(out_dir / "rows.jsonl")]
    for row in rows:
        if row["id"].endswith("#1"):  # the syntax error never runs
            assert row["exec_status"] == "syntax_error" and row["truth"]["bug_free"] is False
        if row["id"].endswith("#2"):  # the made-up repo cannot load offline
            assert row["exec_status"] != "ok" and row["truth"]["arguments"] is False
    ran = [r for r in rows if r["exec_status"] == "ok"]
    assert ran and all(r["id"].endswith("#0") for r in ran)
    sv = summary["score_vs_execution"]
    assert sv["n"] == 15 and 0.5 < sv["auc"] <= 1.0  # the judge's score tracks what runs
    assert (out_dir / "judge_quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    executions = (out_dir / "executions.jsonl").read_text()
    # a re-run reuses the executions (resumable), and gives the same summary
    assert rlaif_main(["judge-report", str(tmp_path / "f.jsonl"), "bootstrap=200", "--no-progress"]) == 0
    assert (out_dir / "executions.jsonl").read_text() == executions
    again = json.loads((out_dir / "judge_quality.json").read_text())
    assert again["questions"] == summary["questions"]


def _oracle_policy(text: str) -> float:
    """The loopback judge's P(yes): 0.8 / 0.2 on the syntax question by whether the code compiles,
    0.7 (yes) on every other question."""
    from gorilla_rlaif.judge import load_rubric

    question = re.search(r"\n\nQuestion: (.*)\n", text)  # None: the judge's capability probes
    if question is None or question.group(1) != next(
        q.text for q in load_rubric().questions if q.id == "syntax"
    ):
        return 0.7
    completion = re.search(r"Answer to review:\n(.*)\n\nQuestion: ", text, re.S).group(1)
    return 0.8 if static_truth(parse_completion(completion).get("code"))["syntax"] else 0.2


def test_an_openai_judge_is_measured_with_its_probabilities(tmp_path):
    """Real HTTP to the loopback OpenAI-compatible server; the expected numbers follow from the policy."""
    write_jsonl(tmp_path / "c.jsonl", _candidates(4))
    with OpenAITestServer(policy=_oracle_policy) as server:
        config = LabelConfig(
            candidates=str(tmp_path / "c.jsonl"),
            output=str(tmp_path / "f.jsonl"),
            judge=JudgeConfig(
                judge="openai:judge-model",
                openai={"llm": LLMSettings(base_url=server.base_url, backoff_initial=0.01)},
            ),
        )
        assert label(config, progress=False)["ok"] == 12
    summary = judge_report(
        JudgeReportConfig(
            feedback=str(tmp_path / "f.jsonl"), output_dir=str(tmp_path / "q"), sandbox="none", progress=False
        )
    )
    syntax = summary["questions"]["syntax"]
    assert syntax["accuracy"]["value"] == 1.0 and syntax["n"] == 12
    # P(yes) 0.8 on 8 compiling answers (all truly yes), 0.2 on 4 broken ones (all truly no)
    assert syntax["calibration"]["brier"] == pytest.approx(0.04)
    assert syntax["calibration"]["ece"] == pytest.approx(0.2)
    # "yes" to api_exists everywhere: right on the 8 real APIs, wrong on the 4 made-up ones
    assert summary["questions"]["api_exists"]["accuracy"]["value"] == pytest.approx(8 / 12)
    assert summary["questions"]["api_exists"]["precision_yes"] == pytest.approx(8 / 12)
    assert summary["questions"]["bug_free"]["n"] == 0  # nothing ran: sandbox none
    assert "score_vs_execution" not in summary
    table = (tmp_path / "q" / "judge_quality.md").read_text()
    assert "`openai:judge-model`" in table and "| syntax | compile | 12 |" in table and "0.040" in table


def test_the_hf_judge_with_the_tiny_model(tmp_path, tiny_model_path):
    write_jsonl(tmp_path / "c.jsonl", _candidates(2))
    config = LabelConfig(
        candidates=str(tmp_path / "c.jsonl"),
        output=str(tmp_path / "f.jsonl"),
        judge=JudgeConfig(judge=f"hf:{tiny_model_path}", hf={"batch_size": 8}),
    )
    label(config, progress=False)
    summary = judge_report(
        JudgeReportConfig(feedback=str(tmp_path / "f.jsonl"), output_dir=str(tmp_path / "q"), progress=False)
    )
    for q in ("syntax", "api_exists", "bug_free"):
        cal = summary["questions"][q]["calibration"]
        assert cal["n"] == 6 and 0 <= cal["ece"] <= 1 and 0 <= cal["brier"] <= 1
        assert sum(point["n"] for point in cal["curve"]) == 6
    assert summary["weighted_score_vs_execution"]["n"] == 6  # the hf judge's weighted score, too
    assert Path(tmp_path / "q" / "judge_quality.png").stat().st_size > 0

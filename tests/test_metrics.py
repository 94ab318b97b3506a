"""Metrics: Gorilla-exact AST verdicts on gold outputs, strict mode, per-hub rules, ROUGE-L,
CodeBLEU, bootstrap, response-file errors and the `gorilla-bench score` command."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from gorilla_rlaif.cli import bench_main
from gorilla_rlaif.data import ApiEntry, load_api_db, load_records
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.metrics import (
    ApiMatcher,
    bootstrap_ci,
    codebleu,
    extract_api_call,
    load_responses,
    rouge_l,
    score_responses,
)
from gorilla_rlaif.metrics.ast_match import index_api_call

HUBS = ("huggingface", "tensorflowhub", "torchhub")


@pytest.fixture(scope="module")
def hub_data():
    """(matcher, eval records) per hub, parsed once for the whole module."""
    return {hub: (ApiMatcher.from_db(load_api_db(hub)), load_records(hub, "eval").records) for hub in HUBS}


def gold_responses(records):
    return [{"question_id": r.question_id, "text": r.raw_code} for r in records]


def entry(api_call: str, domain: str = "d") -> ApiEntry:
    return ApiEntry(domain=domain, framework="f", api_name=api_call[:20], api_call=api_call)


# Gorilla's own evaluators on the eval files' gold outputs: (correct, hallucination) counts.
# TorchHub: 162/186 = 0.8710, 23/186 = 0.1237, exactly Gorilla's published reference figures.
# HuggingFace and TensorFlow Hub: see test_gold_figures_hf_tf_close_to_reference.
GORILLA_GOLD = {"huggingface": (835, 40, 911), "tensorflowhub": (657, 4, 688), "torchhub": (162, 23, 186)}
REFERENCE = {"huggingface": (0.9155, 0.0472), "tensorflowhub": (0.9520, 0.0087), "torchhub": (0.8710, 0.1237)}


@pytest.mark.parametrize("hub", HUBS)
def test_gold_outputs_scored_gorilla_exactly(hub, hub_data):
    matcher, records = hub_data[hub]
    report = score_responses(
        hub, gold_responses(records), records=records, matcher=matcher, text_metrics=False, bootstrap=200
    )
    correct, hallucination, n = GORILLA_GOLD[hub]
    summary = report.summary
    assert summary["n"] == n
    assert summary["counts"]["correct"] == correct
    assert summary["counts"]["hallucination"] == hallucination
    assert summary["ast_accuracy"]["value"] == pytest.approx(correct / n)
    low, high = summary["ast_accuracy"]["ci95"]
    assert low < correct / n < high
    assert summary["error_rate"]["value"] == pytest.approx((n - correct - hallucination) / n)


def test_gold_figures_torchhub_equal_reference(hub_data):
    matcher, records = hub_data["torchhub"]
    verdicts = Counter(matcher.verdict(r.raw_code, r.api_data.domain).verdict for r in records)
    assert round(verdicts["correct"] / len(records), 4) == REFERENCE["torchhub"][0]
    assert round(verdicts["hallucination"] / len(records), 4) == REFERENCE["torchhub"][1]


# The responses whose Gorilla verdict rests on parsing a free-text answer (no `api_call` marker) or
# on the fall-through quirk (no subtree has the entry's name: the walk's last subtree is compared).
# Only these can flip under another evaluator set-up; see "Reference figures" in ast_match.py.
NO_MARKER_MATCHED = {
    "huggingface": {41: "correct", 406: "error", 690: "correct", 788: "error"},
    "tensorflowhub": {
        9: "error",
        49: "correct",
        68: "correct",
        168: "correct",
        566: "correct",
        677: "correct",
    },
    "torchhub": {},
}
FALL_THROUGH = {
    "huggingface": {335: "correct", 406: "error", 788: "error", 853: "error"},
    "tensorflowhub": {168: "correct"},
    "torchhub": {142: "correct"},
}


@pytest.mark.parametrize("hub", HUBS)
def test_gold_verdicts_that_rest_on_free_text_or_fall_through(hub, hub_data):
    """HF and TF differ from the issue's reference figures by 3 and 2 responses (HF: 1 correct and
    2 errors more are hallucinations there; TF: 2 correct). Gorilla's scripts run on every
    tree-sitter-python grammar they can load (ABI 13-14: 0.19.0 to 0.21.0) with py-tree-sitter
    0.20.4 and 0.22 give our counts exactly, so the gap is not the grammar. It can only lie in these
    responses, pinned here so that any change to them is noticed."""
    matcher, records = hub_data[hub]
    no_marker, fall_through = {}, {}
    for r in records:
        v = matcher.verdict(r.raw_code, r.api_data.domain)
        if v.match is None:
            continue
        if "api_call" not in r.raw_code:
            no_marker[r.question_id] = v.verdict
        name = index_api_call(v.match.entry.api_call, hub).name.decode()
        if not v.match.node_text.startswith(name):
            fall_through[r.question_id] = v.verdict
    assert no_marker == NO_MARKER_MATCHED[hub]
    assert fall_through == FALL_THROUGH[hub]
    if hub == "torchhub":
        return
    ref_acc, ref_hal = REFERENCE[hub]
    n = len(records)
    correct, hallucination, _ = GORILLA_GOLD[hub]
    flips_needed = round(ref_hal * n) - hallucination  # HF 3, TF 2: matches that became hallucinations
    lost_correct = correct - round(ref_acc * n)  # HF 1, TF 2
    fragile = {**no_marker, **fall_through}
    assert 0 < lost_correct <= flips_needed <= len(fragile)
    assert sum(v == "correct" for v in fragile.values()) >= lost_correct


@pytest.mark.parametrize(
    ("hub", "floor"), [("huggingface", 0.92), ("tensorflowhub", 0.98), ("torchhub", 0.98)]
)
def test_strict_mode_on_gold_outputs_explains_every_miss(hub, floor, hub_data):
    matcher, records = hub_data[hub]
    verdicts = [
        matcher.verdict(r.raw_code, r.api_data.domain, r.api_data.api_call, strict=True) for r in records
    ]
    accuracy = sum(v.verdict == "correct" for v in verdicts) / len(records)
    assert accuracy >= floor
    assert all(v.strict_correct == (v.verdict == "correct") for v in verdicts)
    known = (
        "no api_call section",  # free-text gold answers
        "contains no function call",  # gold api_call is a shell command or a quoted string
        "no function call in the api_call section",
        "the gold API is",  # the gold answer calls another API than its api_data (e.g. pipeline)
        "without the gold argument value",  # e.g. another model id than api_data's
    )
    misses = [v for v in verdicts if v.verdict != "correct"]
    assert misses and all(any(k in v.reason for k in known) for v in misses), [v.reason for v in misses]


def test_made_up_model_id_is_a_hallucination(hub_data):
    matcher, records = hub_data["huggingface"]
    record = next(
        r for r in records if "'dslim/bert-base-NER'" in r.raw_code or "from_pretrained('" in r.raw_code
    )
    assert matcher.verdict(record.raw_code, record.api_data.domain).verdict == "correct"
    model_id = record.raw_code.split("from_pretrained('", 1)[1].split("'", 1)[0]
    fake = record.raw_code.replace(model_id, "made-up-org/no-such-model-123")
    verdict = matcher.verdict(fake, record.api_data.domain, record.api_data.api_call)
    assert verdict.verdict == "hallucination"
    assert verdict.matched_api is None and verdict.strict_correct is False


def test_real_model_of_another_domain_is_an_error(hub_data):
    matcher, records = hub_data["torchhub"]
    record = next(r for r in records if matcher.verdict(r.raw_code, r.api_data.domain).verdict == "correct")
    other = next(
        e for e in matcher.entries if e.domain != record.api_data.domain and "repo_or_dir" in e.api_call
    )
    text = f"<<<domain>>>: x\n<<<api_call>>>: {other.api_call}\n<<<api_provider>>>: PyTorch"
    verdict = matcher.verdict(text, record.api_data.domain, record.api_data.api_call)
    assert verdict.verdict == "error"
    assert verdict.match is not None and verdict.match.entry.domain != record.api_data.domain
    assert verdict.strict_correct is False


def test_match_api_used_by_the_rules_judge(hub_data):
    matcher, records = hub_data["huggingface"]
    db = load_api_db("huggingface")
    m = matcher.match(records[0].raw_code)
    assert m is not None and db.entries[m.index] == m.entry
    assert m.call_text.strip().startswith(m.entry.api_call.split("(")[0][:5])


def test_torchhub_rule_needs_only_repo_and_model():
    matcher = ApiMatcher(
        "torchhub",
        [
            entry("torch.hub.load(repo_or_dir='pytorch/vision', model='resnet18', pretrained=True)", "cls"),
            entry("torch.hub.load('pytorch/vision', 'vgg11')", "never"),  # no keyword: never matches
        ],
    )
    call = "<<<api_call>>>: torch.hub.load(repo_or_dir='pytorch/vision', model='resnet18', pretrained=False) <<<api_provider>>>"
    assert matcher.match(call).index == 0  # pretrained is not required
    assert matcher.match(call.replace("resnet18", "vgg11")) is None
    positional = "<<<api_call>>>: torch.hub.load('pytorch/vision', 'resnet18') <<<api_provider>>>"
    assert matcher.match(positional).index == 0  # values are substrings of the call text
    # without an api_call marker TorchHub gives neither correct nor hallucination
    assert extract_api_call("torch.hub.load('pytorch/vision', 'resnet18')", "torchhub") is None
    assert matcher.verdict("torch.hub.load('pytorch/vision', 'resnet18')", "cls").verdict == "error"


def test_tensorflow_rule_model_keyword_and_whole_other_arguments():
    matcher = ApiMatcher(
        "tensorflowhub", [entry("hub.KerasLayer(model='https://tfhub.dev/a/1', trainable=True)")]
    )
    full = "<<<api_call>>>: hub.KerasLayer(model='https://tfhub.dev/a/1', trainable=True), <<<api_provider>>>"
    assert matcher.match(full).index == 0
    # TF keeps `trainable=True` whole: a response without it does not match
    assert matcher.match(full.replace(", trainable=True", "")) is None
    # HF's rule only needs the keyword values ('True' is a substring of the call)
    hf = ApiMatcher("huggingface", matcher.entries)
    assert hf.match(full.replace(", trainable=True", ", x=True")).index == 0
    # without a marker HF/TF parse the whole response
    assert matcher.match("hub.KerasLayer(model='https://tfhub.dev/a/1', trainable=True)").index == 0


def test_gorilla_extraction_quirks():
    text = "<<<api_call>>>: f('a'), more) text <<<api_provider>>>: x"
    assert extract_api_call(text, "huggingface") == "f('a'), more)"
    # no colon: Gorilla still skips two characters
    assert extract_api_call("api_call no colon f(x) api_provider", "hf") == "o colon f(x)"
    assert extract_api_call("<<<api_call>>>: f('a' <<<api_provider>>>", "hf") == "f('a' <<"


def test_fall_through_quirk_default_vs_strict(hub_data):
    """Gorilla compares with the last subtree when the entry's function is absent: a callee
    containing 'ner' 'matches' pipeline('ner'). Strict mode does not."""
    matcher, _ = hub_data["huggingface"]
    text = "<<<api_call>>>: Swin2SRForConditionalGeneration.from_pretrained('x/y') <<<api_provider>>>"
    m = matcher.match(text)
    assert m is not None and m.entry.api_call == "pipeline('ner')"
    assert matcher.match(text, strict=True) is None


def test_response_file_errors_name_the_line(tmp_path):
    path = tmp_path / "responses.jsonl"
    path.write_text('{"question_id": 1, "text": "x"}\n{"question_id": 2}\n')
    with pytest.raises(DataError, match=r"responses\.jsonl:2: missing 'text'"):
        load_responses(path)
    path.write_text('{"question_id": "one", "text": "x"}\n')
    with pytest.raises(DataError, match=r":1: 'question_id' must be a positive integer"):
        load_responses(path)
    path.write_text('{"question_id": 1, "text": "x"}\n{"question_id": 2, "te\n')
    with pytest.raises(DataError, match=r":2: invalid JSON"):
        load_responses(path)


def test_unknown_question_id_and_custom_records(hub_data):
    matcher, records = hub_data["torchhub"]
    subset = records[10:15]
    report = score_responses(
        "torchhub", gold_responses(subset), records=subset, matcher=matcher, bootstrap=50
    )
    assert [row.question_id for row in report.rows] == [r.question_id for r in subset]
    with pytest.raises(DataError, match="question_id"):
        score_responses("torchhub", [{"question_id": 1, "text": "x"}], records=subset, matcher=matcher)


def test_text_metrics_and_missing_code(hub_data):
    matcher, records = hub_data["huggingface"]
    record = next(r for r in records if r.output is not None)
    gold = record.output.code
    assert rouge_l(gold, gold) == pytest.approx(1.0) and codebleu(gold, gold) == pytest.approx(1.0)
    other = "import numpy as np\nx = np.zeros(3)\nprint(x.sum())"
    assert rouge_l(other, gold) < 0.5 and codebleu(other, gold) < 0.5
    responses = [
        {"question_id": record.question_id, "text": record.raw_code},
        {"question_id": record.question_id, "text": f"<<<api_call>>>: {record.api_data.api_call}"},
        {"question_id": record.question_id, "text": f"<<<code>>>: {other}"},
    ]
    report = score_responses("huggingface", responses, records=[record], matcher=matcher, bootstrap=100)
    rows = report.rows
    assert rows[0].rouge_l == pytest.approx(1.0) and rows[1].rouge_l is None and not rows[1].has_code
    assert report.summary["n_without_code"] == 1
    assert report.summary["rouge_l"]["value"] == pytest.approx((1.0 + rows[2].rouge_l) / 2)


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = [1.0] * 30 + [0.0] * 70
    low, high = bootstrap_ci(values, n=500, seed=1)
    assert (low, high) == bootstrap_ci(values, n=500, seed=1)
    assert 0.2 < low < 0.3 < high < 0.4
    assert bootstrap_ci([0.5, 0.5], n=100) == (0.5, 0.5)
    with pytest.raises(ValueError):
        bootstrap_ci(values, confidence=1.5)


def test_cli_score_writes_summary_and_rows(tmp_path, hub_data, capsys):
    _, records = hub_data["torchhub"]
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps(r) + "\n" for r in gold_responses(records[:8])))
    summary, rows = tmp_path / "s.json", tmp_path / "rows.jsonl"
    code = bench_main(
        [
            "score",
            str(responses),
            "--hub",
            "torch",
            "-o",
            str(summary),
            "--per-sample",
            str(rows),
            "--bootstrap",
            "100",
        ]
    )
    assert code == 0
    data = json.loads(summary.read_text())
    assert data["n"] == 8 and data["provenance"]["config"]["hub"] == "torchhub"
    assert set(data) >= {
        "ast_accuracy",
        "hallucination_rate",
        "error_rate",
        "ast_accuracy_strict",
        "rouge_l",
        "codebleu",
    }
    lines = [json.loads(line) for line in rows.read_text().splitlines()]
    assert len(lines) == 8 and {"question_id", "ast_verdict", "matched_api", "rouge_l", "codebleu"} <= set(
        lines[0]
    )
    assert "ast_accuracy" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n')
    assert bench_main(["score", str(bad), "--hub", "torchhub"]) == 2

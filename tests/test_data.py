"""APIBench data layer: counts, parsing of all three formats, errors, splits, prompt format."""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import pytest

from gorilla_rlaif.data import (
    SECTIONS,
    SplitConfig,
    Splits,
    build_prompt,
    format_target,
    load_api_db,
    load_records,
    make_splits,
    parse_code_text,
    parse_completion,
    records_from_file,
    sft_example,
)
from gorilla_rlaif.data.sources import BUNDLED_DIR, resolve_file
from gorilla_rlaif.data.splits import normalize_instruction
from gorilla_rlaif.errors import DataError

# Counts and git blob ids from shared/data/apibench/README.md.
EXPECTED = {
    ("huggingface", "eval"): (911, "65a4ecb7"),
    ("tensorflowhub", "eval"): (688, "b87b6c4f"),
    ("torchhub", "eval"): (186, "2a93f10f"),
    ("torchhub", "train"): (837, "0cc46912"),
}
EXPECTED_API = {
    "huggingface": (936, "0735a221"),
    "tensorflowhub": (696, "12c7a43b"),
    "torchhub": (94, "a4bf421f"),
}


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.mark.parametrize(("hub", "split"), list(EXPECTED))
def test_record_counts_and_bundled_bytes_match_source(hub, split):
    count, blob = EXPECTED[(hub, split)]
    resolved = resolve_file(hub, split)
    assert resolved.source == "bundled"
    assert git_blob(gzip.decompress(resolved.path.read_bytes())).startswith(blob)
    result = load_records(hub, split)
    assert len(result.records) == count
    assert [r.question_id for r in result.records] == list(range(1, count + 1))
    assert len(result.failures) + len(result.parsed) == count


@pytest.mark.parametrize("hub", list(EXPECTED_API))
def test_api_database_counts(hub):
    count, blob = EXPECTED_API[hub]
    db = load_api_db(hub)
    assert len(db) == count
    assert git_blob(gzip.decompress(resolve_file(hub, "api").path.read_bytes())).startswith(blob)
    assert all(e.api_call for e in db)


def _has_all_markers(code: str) -> bool:
    """Independent check: the text has instruction, output and all five sections."""
    if code.lstrip().startswith("{'Instruction'"):
        body = code.split("'Output'", 1)[-1]
        return all(f"'{k}':" in body for k in SECTIONS)
    if not re.search(r"###\s*Instruction:", code) or not re.search(r"###\s*Output:", code):
        return False
    body = re.split(r"###\s*Output:", code, maxsplit=1)[1]
    if "<<<" in body:
        return all(re.search(rf"<<<{k}>>>", body) for k in SECTIONS)
    return all(f"'{k}':" in body for k in SECTIONS)


@pytest.mark.parametrize(("hub", "split"), list(EXPECTED))
def test_parse_succeeds_exactly_on_records_with_markers(hub, split):
    result = load_records(hub, split)
    for record in result.records:
        assert record.ok == _has_all_markers(record.raw_code), (record.id, record.parse_error)
    failed_lines = {f.line for f in result.failures}
    assert failed_lines == {r.line for r in result.records if not r.ok}
    for f in result.failures:
        assert f.reason and f.source_file.endswith(".json")


def test_parse_counts_are_what_we_measured():
    # Recorded so a parser change that loses records is noticed (HF 885/911, TF 674/688, TH 185/186, 835/837).
    got = {k: len(load_records(*k).parsed) for k in EXPECTED}
    assert got == {
        ("huggingface", "eval"): 885,
        ("tensorflowhub", "eval"): 674,
        ("torchhub", "eval"): 185,
        ("torchhub", "train"): 835,
    }


def test_three_formats_parse_to_the_same_sections():
    hf = parse_code_text(
        "###Instruction: Summarise text.\n###Output: <<<domain>>>: NLP Summarization\n<<<api_call>>>: "
        "pipeline('summarization', model='t5-small')\n<<<api_provider>>>: Hugging Face Transformers\n"
        "<<<explanation>>>: 1. Import.\n<<<code>>>: from transformers import pipeline\ns = pipeline('summarization')"
    )
    assert hf.output.api_call == "pipeline('summarization', model='t5-small')"
    assert hf.output.code.endswith("pipeline('summarization')")
    tf = parse_code_text(
        "###Instruction: Embed.\n###Output: <<<domain>>>: Text embedding, <<<api_call>>>: hub.load('https://tfhub.dev/x/4'), "
        "<<<api_provider>>>: TensorFlow Hub, <<<explanation>>>: Loads USE. <<<code>>>: import tensorflow_hub as hub"
    )
    assert tf.output.domain == "Text embedding"  # the ", " separator is not part of the value
    assert tf.output.api_call == "hub.load('https://tfhub.dev/x/4')"
    th_eval = parse_code_text(
        "###Instruction: Classify videos.\n###Output: {'domain': 'Video Classification', 'api_call': "
        "'model = torch.hub.load('facebookresearch/pytorchvideo', 'slow_r50', pretrained=True)', 'api_provider': "
        "'PyTorch', 'explanation': 'Load it.', 'code': 'import torch\nmodel = torch.hub.load('a', 'b')'}\n"
    )
    assert (
        th_eval.output.api_call
        == "model = torch.hub.load('facebookresearch/pytorchvideo', 'slow_r50', pretrained=True)"
    )
    assert th_eval.output.code == "import torch\nmodel = torch.hub.load('a', 'b')"
    th_train = parse_code_text(
        "{'Instruction': Estimate depth, please., 'Output': {'domain': 'Classification', 'api_call': \"model = "
        "torch.hub.load('intel-isl/MiDaS', 'DPT_Hybrid')\", 'api_provider': 'PyTorch', 'explanation': \"It's good.\", "
        "'code': 'import torch'}}"
    )
    assert th_train.instruction == "Estimate depth, please."
    assert th_train.output.api_call == "model = torch.hub.load('intel-isl/MiDaS', 'DPT_Hybrid')"
    assert th_train.output.explanation == "It's good."
    assert th_train.output.code == "import torch"


def test_input_section_is_kept_apart_from_instruction():
    p = parse_code_text(
        "###Instruction: Translate.\n###Input: Hello\n###Output: <<<domain>>>: d\n<<<api_call>>>: f()\n"
        "<<<api_provider>>>: p\n<<<explanation>>>: e\n<<<code>>>: c"
    )
    assert (p.instruction, p.input) == ("Translate.", "Hello")


def test_missing_sections_are_named():
    p = parse_code_text(
        "###Instruction: x\n###Output: <<<domain>>>: d\n<<<api_call>>>: f()\n<<<api_provider>>>: p"
    )
    assert p.output is None and "explanation, code" in p.error


def test_prompt_and_target_round_trip_for_every_parsed_record():
    for hub, split in EXPECTED:
        for record in load_records(hub, split).parsed[:50]:
            example = sft_example(record)
            assert example["prompt"].startswith("###Instruction: ") and example["prompt"].endswith(
                "###Output:"
            )
            sections = parse_completion(example["prompt"] + example["completion"])
            assert sections["api_call"] == record.output.api_call.strip()
            assert sections["domain"] == record.output.domain.strip()
    assert build_prompt("Do X", "in") == "###Instruction: Do X\n###Input: in\n###Output:"


def test_format_target_order():
    record = load_records("torchhub", "eval").records[0]
    target = format_target(record.output)
    assert [m for m in re.findall(r"<<<(\w+)>>>", target)] == list(SECTIONS)


# --- bad inputs: clear errors naming file and line -------------------------------------------


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


GOOD = json.dumps(
    {
        "code": "###Instruction: a\n###Output: <<<domain>>>: d\n<<<api_call>>>: f()\n<<<api_provider>>>: p\n"
        "<<<explanation>>>: e\n<<<code>>>: c",
        "api_call": "f()",
        "provider": "p",
        "api_data": {"domain": "d", "framework": "p", "api_name": "n", "api_call": "f()"},
    }
)


def test_truncated_json_line_names_file_and_line(tmp_path):
    path = _write(tmp_path, "x_eval.json", (GOOD + "\n" + GOOD[:40] + "\n").encode())
    with pytest.raises(DataError, match=r"x_eval\.json:2: invalid JSON"):
        records_from_file(path, "huggingface", "eval")


def test_missing_field_names_file_line_and_field(tmp_path):
    bad = json.loads(GOOD)
    del bad["api_call"]
    path = _write(tmp_path, "x_eval.json", (GOOD + "\n" + GOOD + "\n" + json.dumps(bad)).encode())
    with pytest.raises(DataError, match=r"x_eval\.json:3: record is missing field\(s\) 'api_call'"):
        records_from_file(path, "huggingface", "eval")


def test_missing_api_data_field(tmp_path):
    bad = json.loads(GOOD)
    del bad["api_data"]["api_name"]
    path = _write(tmp_path, "x_eval.json", json.dumps(bad).encode())
    with pytest.raises(DataError, match=r"x_eval\.json:1: api_data\.api_name: Field required"):
        records_from_file(path, "huggingface", "eval")


def test_non_utf8_names_file_and_line(tmp_path):
    path = _write(tmp_path, "x_eval.json", GOOD.encode() + b"\n" + GOOD.encode()[:20] + b"\xff\xfe" + b"\n")
    with pytest.raises(DataError, match=r"x_eval\.json:2: not valid UTF-8 \(byte 0xff"):
        records_from_file(path, "huggingface", "eval")


def test_empty_file_is_an_error(tmp_path):
    path = _write(tmp_path, "x_eval.json", b"\n")
    with pytest.raises(DataError, match=r"x_eval\.json: file is empty"):
        records_from_file(path, "huggingface", "eval")


def test_non_object_line(tmp_path):
    path = _write(tmp_path, "x_eval.json", b"[1, 2]\n")
    with pytest.raises(DataError, match=r"x_eval\.json:1: expected a JSON object, got list"):
        records_from_file(path, "huggingface", "eval")


def test_unparseable_records_are_kept_counted_and_strict_raises(tmp_path):
    free = json.loads(GOOD)
    free["code"] = "###Instruction: a\n###Output: just prose"
    path = _write(tmp_path, "x_eval.json", (GOOD + "\n" + json.dumps(free) + "\n" + GOOD + "\n").encode())
    result = records_from_file(path, "huggingface", "eval")
    assert len(result.records) == 3 and len(result.failures) == 1
    assert result.failures[0].line == 2 and "free text" in result.failures[0].reason
    assert result.records[2].question_id == 3  # nothing shifted
    with pytest.raises(DataError, match=r"(?s)1 record\(s\) could not be parsed.*x_eval\.json:2"):
        records_from_file(path, "huggingface", "eval", strict=True)


def test_local_directory_takes_precedence_and_missing_file_is_an_error(tmp_path):
    _write(tmp_path, "torchhub_eval.json", (GOOD + "\n").encode())
    result = load_records("torchhub", "eval", data_dir=tmp_path)
    assert len(result.records) == 1 and result.file["source"] == "local"
    with pytest.raises(DataError, match=r"torchhub_train.json .* not found"):
        load_records("torchhub", "train", data_dir=tmp_path)


def test_unbundled_file_offline_explains_what_to_do():
    with pytest.raises(DataError, match=r"huggingface_train.json is not bundled.*--data-dir"):
        load_records("huggingface", "train")


def test_bundle_has_notice_with_attribution():
    notice = (BUNDLED_DIR / "NOTICE").read_text()
    assert "Apache License 2.0" in notice and "arXiv:2305.15334" in notice


# --- splits ------------------------------------------------------------------------------------


def _keys(records):
    return {normalize_instruction(r.instruction) for r in records}


@pytest.mark.parametrize("hub", ["torchhub", "huggingface"])
def test_splits_are_disjoint_by_instruction_and_deterministic(hub):
    a = make_splits(SplitConfig(hub=hub, seed=3))
    b = make_splits(SplitConfig(hub=hub, seed=3))
    c = make_splits(SplitConfig(hub=hub, seed=4))
    assert a.manifest["split_hash"] == b.manifest["split_hash"] != c.manifest["split_hash"]
    stages = ["sft", "rm", "rl", "test"]
    for i, s in enumerate(stages):
        for t in stages[i + 1 :]:
            assert not (_keys(a[s]) & _keys(a[t])), (s, t)
    for stage in ("sft", "rm", "rl"):
        assert a[stage], stage


def test_torchhub_test_split_is_the_eval_file_and_pool_is_train():
    s = make_splits(SplitConfig(hub="torchhub"))
    assert s.manifest["test_mode"] == "eval"
    assert len(s["test"]) == 186 and {r.split for r in s["test"]} == {"eval"}
    assert sum(len(s[k]) for k in ("sft", "rm", "rl")) == 835
    assert abs(len(s["sft"]) / 835 - 0.6) < 0.01


def test_huggingface_offline_uses_holdout_and_api_db_examples():
    s = make_splits(SplitConfig(hub="huggingface"))
    assert s.manifest["test_mode"] == "holdout" and s.manifest["api_db_examples"]
    api_examples = [r for r in s["sft"] if r.split == "api"]
    assert len(api_examples) == 936
    assert all(r.output is not None for r in s["sft"])
    assert 0.15 < len(s["test"]) / 885 < 0.25


def test_splits_save_and_load_round_trip(tmp_path):
    s = make_splits(SplitConfig(hub="torchhub", seed=1))
    s.save(tmp_path)
    again = Splits.load(tmp_path)
    assert {k: [r.id for r in v] for k, v in again.splits.items()} == {
        k: [r.id for r in v] for k, v in s.splits.items()
    }
    manifest = json.loads((tmp_path / "gorilla_rlaif.meta.json").read_text())
    assert manifest["config"]["seed"] == 1 and len(manifest["inputs"]["eval"]["sha256"]) == 64
    assert manifest["versions"]["pydantic"]


def test_bad_split_config_is_rejected():
    with pytest.raises(ValueError, match="fractions"):
        SplitConfig(fractions={"sft": 0, "rm": 0, "rl": 0})

"""JSONL appender (resume after a crash), atomic writes, config loading with clear errors."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from gorilla_rlaif.config import load_config, parse_overrides
from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.io import JsonlAppender, read_jsonl, sha256_file


def test_appender_resumes_and_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "out.jsonl"
    with JsonlAppender(path) as out:
        out.append({"id": "a", "v": 1})
        out.append({"id": "b", "v": 2})
    with path.open("a") as f:  # a process killed mid-write
        f.write('{"id": "c", "v"')
    out = JsonlAppender(path)
    assert out.keys == {"a", "b"} and "c" not in out
    out.append({"id": "c", "v": 3})
    out.close()
    assert [row["id"] for _, row in read_jsonl(path)] == ["a", "b", "c"]


def test_sha256_of_gzip_is_of_content(tmp_path):
    import gzip

    (tmp_path / "a.txt").write_bytes(b"hello")
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"hello"))
    assert sha256_file(tmp_path / "a.txt") == sha256_file(tmp_path / "a.txt.gz")


class Inner(BaseModel):
    lr: float = 1e-3
    steps: int = 10


class Outer(BaseModel):
    name: str = "x"
    inner: Inner = Inner()
    flag: bool = True


def test_overrides_beat_yaml_beat_defaults_and_falsy_values_count(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: fromfile\ninner:\n  lr: 0.5\n  steps: 3\n")
    out = load_config(Outer, cfg, ["inner.lr=0", "flag=false", "name="])
    assert out.inner.lr == 0 and out.inner.steps == 3 and out.flag is False and out.name == ""


def test_unknown_key_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'inner.lrr'; did you mean 'lr'"):
        load_config(Outer, None, ["inner.lrr=1"])


def test_bad_value_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"inner.steps: Input should be a valid integer"):
        load_config(Outer, None, ["inner.steps=many"])


def test_override_syntax_error():
    with pytest.raises(ConfigError, match="not of the form key=value"):
        parse_overrides(["oops"])
    assert parse_overrides(["a.b=[1, 2]"]) == {"a": {"b": [1, 2]}}


def test_write_jsonl_is_readable(tmp_path):
    from gorilla_rlaif.io import write_json, write_jsonl

    write_jsonl(tmp_path / "x.jsonl", [{"a": "é"}])
    write_json(tmp_path / "x.json", {"b": 1})
    assert next(read_jsonl(tmp_path / "x.jsonl"))[1] == {"a": "é"}
    assert json.loads((tmp_path / "x.json").read_text()) == {"b": 1}


def test_one_sidecar_rule_for_files_and_directories(tmp_path):
    """`X.jsonl` -> `X.meta.json`; a directory -> `DIR/gorilla_rlaif.meta.json`; older names read."""
    import json

    from gorilla_rlaif.sidecar import read_sidecar, sidecar_path, write_sidecar

    assert sidecar_path(tmp_path / "feedback.jsonl") == tmp_path / "feedback.meta.json"
    model = tmp_path / "model"
    model.mkdir()
    assert sidecar_path(model) == model / "gorilla_rlaif.meta.json"
    write_sidecar(tmp_path / "c.jsonl", {"stage": "generate"})
    assert read_sidecar(tmp_path / "c.jsonl") == {"stage": "generate"}
    (model / "gorilla_rlaif_train.json").write_text(json.dumps({"trainer": "sft"}))  # an older run
    assert read_sidecar(model) == {"trainer": "sft"}
    write_sidecar(model, {"trainer": "dpo"})
    assert read_sidecar(model) == {"trainer": "dpo"}  # the rule's name wins
    assert read_sidecar(tmp_path / "nothing.jsonl") is None

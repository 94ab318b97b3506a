"""The tiny model builder and the command-line programs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from gorilla_rlaif.cli import bench_main, rlaif_main
from gorilla_rlaif.tiny import PROVENANCE_FILE, TinyModelConfig, build_tiny_model

ROOT = Path(__file__).resolve().parents[1]


def _digest(path: Path) -> str:
    return hashlib.sha256(
        (path / "model.safetensors").read_bytes() + (path / "tokenizer.json").read_bytes()
    ).hexdigest()


def test_tiny_model_reloads_with_auto_classes_and_generates(tiny_model_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    assert model.config.n_layer == 2 and model.config.n_embd == 64
    assert (
        tok.pad_token == "<|pad|>"
        and tok.eos_token == "<|endoftext|>"
        and tok.pad_token_id != tok.eos_token_id
    )
    ids = tok("###Instruction: load a model\n###Output:", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5
    # The BPE was trained on APIBench: common API text is a few tokens, not one per byte.
    assert len(tok("torch.hub.load(")["input_ids"]) <= 6
    prov = json.loads((tiny_model_path / PROVENANCE_FILE).read_text())
    assert prov["config"]["vocab_size"] == 2048 and prov["inputs"]


def test_tiny_model_is_cached_and_deterministic(tiny_model_path, tmp_path):
    again = build_tiny_model(cache_dir=tiny_model_path.parent)
    assert again == tiny_model_path  # cache hit, same hash
    fresh = build_tiny_model(TinyModelConfig(), output_dir=tmp_path / "fresh")
    assert _digest(fresh) == _digest(tiny_model_path)
    other = build_tiny_model(TinyModelConfig(seed=1), output_dir=tmp_path / "other")
    assert _digest(other) != _digest(tiny_model_path)


def test_help_lists_commands(capsys):
    assert rlaif_main([]) == 0
    out = capsys.readouterr().out
    assert "data" in out and "tiny-model" in out
    assert bench_main([]) == 0
    assert "gorilla-bench" in capsys.readouterr().out


def test_data_export_writes_every_record(tmp_path, capsys):
    out = tmp_path / "hf.jsonl"
    assert (
        rlaif_main(["data", "export", "--hub", "huggingface", "--split", "eval", "--output", str(out)]) == 0
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 911 and rows[0]["question_id"] == 1
    assert sum(1 for r in rows if r["parse_error"]) == 26
    assert (
        rows[0]["output_api_call"] == "AutoModel.from_pretrained('princeton-nlp/unsup-simcse-roberta-base')"
    )


def test_cli_errors_are_one_clean_line(tmp_path, capsys):
    bad = tmp_path / "torchhub_eval.json"
    bad.write_text('{"code": 1}\n')
    code = rlaif_main(
        ["data", "export", "--hub", "torch", "--data-dir", str(tmp_path), "-o", str(tmp_path / "o.jsonl")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "torchhub_eval.json:1: record is missing field(s) 'api_call'" in err and "Traceback" not in err
    assert rlaif_main(["data", "export", "--hub", "nope", "-o", "x"]) == 2
    assert "unknown hub 'nope'" in capsys.readouterr().err


def test_console_scripts_run_as_processes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gorilla_rlaif.cli",
            "rlaif",
            "data",
            "splits",
            "--hub",
            "torchhub",
            "-o",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "sft 501, rm 167, rl 167, test 186" in out.stdout
    assert (tmp_path / "s" / "gorilla_rlaif.meta.json").exists()

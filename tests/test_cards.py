"""Model cards: model-index entries in the Hub's format, existing text kept, re-runs replace,
trainer outputs get a card, and `--push` to a stand-in Hub (a MOCK of the Hub's HTTP API in
tests/helpers, because the real Hub is unreachable from here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from gorilla_rlaif.cli import bench_main
from gorilla_rlaif.eval import EvalConfig, run_eval

EXISTING = """---
license: apache-2.0
language: en
model-index:
- name: my-model
  results:
  - task:
      type: text-generation
    dataset:
      name: HumanEval
      type: openai_humaneval
    metrics:
    - type: pass@1
      value: 3.2
    source:
      name: Someone else
      url: https://example.org/humaneval
---

# My model

Words I wrote myself, which must survive every update.
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    """results.json of two real (reference-backend) evals: TorchHub and HuggingFace."""
    out = tmp_path_factory.mktemp("evals")
    paths = {}
    for hub in ("torchhub", "huggingface"):
        config = EvalConfig(
            model="apibench-reference",
            backend="reference",
            hubs=[hub],
            limit=3,
            sandbox="none",
            output_path=str(out),
            progress=False,
        )
        paths[hub] = run_eval(config) / "results.json"
    return paths


def ours(card: ModelCard) -> list:
    return [r for r in card.data.eval_results or [] if r.source_name == "gorilla-rlaif"]


def test_card_round_trips_with_model_index_and_keeps_existing_text(tmp_path, results):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text('{"architectures": ["GPT2LMHeadModel"]}')
    (model_dir / "README.md").write_text(EXISTING)
    assert (
        bench_main(["card", str(model_dir), "--results", str(results["torchhub"]), "--allow-other-model"])
        == 0
    )

    card = ModelCard.load(model_dir / "README.md")
    assert "Words I wrote myself, which must survive every update." in card.text
    assert card.data.license == "apache-2.0" and card.data.language == "en"
    others = [r for r in card.data.eval_results if r.source_name == "Someone else"]
    assert len(others) == 1 and others[0].metric_value == 3.2
    saved = json.loads(results["torchhub"].read_text())
    entries = ours(card)
    assert {r.metric_type for r in entries} == set(saved["hubs"]["torchhub"]["metrics"])
    for r in entries:
        assert r.task_type == "text-generation"
        assert (r.dataset_type, r.dataset_config, r.dataset_split) == (
            "gorilla-llm/APIBench",
            "torchhub",
            "test",
        )
        assert r.metric_value == pytest.approx(
            100 * saved["hubs"]["torchhub"]["metrics"][r.metric_type]["value"]
        )
    assert card.text.count("## APIBench results (gorilla-bench)") == 1
    assert "| TorchHub | test | 3 | 100.0" in card.text

    # again with the same results + another hub: replaced, not duplicated; the other hub is added
    first = len(entries)
    assert (
        bench_main(
            [
                "card",
                str(model_dir),
                "--results",
                str(results["torchhub"]),
                str(results["huggingface"]),
                "--allow-other-model",
            ]
        )
        == 0
    )
    card = ModelCard.load(model_dir / "README.md")
    assert len(ours(card)) == 2 * first
    assert {r.dataset_config for r in ours(card)} == {"torchhub", "huggingface"}
    assert len(card.data.eval_results) == 2 * first + 1
    assert card.text.count("## APIBench results (gorilla-bench)") == 1
    assert "Words I wrote myself" in card.text

    # new numbers for a hub replace the old ones
    changed = json.loads(results["torchhub"].read_text())
    changed["hubs"]["torchhub"]["metrics"]["ast_accuracy"]["value"] = 0.25
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed))
    assert bench_main(["card", str(model_dir), "--results", str(path), "--allow-other-model"]) == 0
    card = ModelCard.load(model_dir / "README.md")
    ast = [r for r in ours(card) if r.dataset_config == "torchhub" and r.metric_type == "ast_accuracy"]
    assert [r.metric_value for r in ast] == [25.0]
    assert len(card.data.eval_results) == 2 * first + 1


def test_trained_model_gets_a_card_automatically(tmp_path, tiny_model_path, results):
    from gorilla_rlaif import trainers

    out = tmp_path / "sft"
    config = trainers.load_config(
        "sft",
        None,
        [
            f"output_dir={out}",
            f"model={tiny_model_path}",
            "max_steps=2",
            "warmup_steps=0",
            "per_device_train_batch_size=4",
            "data.max_samples=8",
            "data.eval_samples=2",
            "eval_max_new_tokens=4",
        ],
        preset="tiny",
    )
    trainers.train("sft", config)
    card = ModelCard.load(out / "README.md")
    assert "## Training" in card.text and "**Trainer:** `sft`" in card.text
    assert str(tiny_model_path) in card.text  # the base model, from the model's record
    assert "max_steps=2" in card.text
    assert (
        "**Data:** APIBench (gorilla-llm/APIBench) torchhub, stage `sft`" in card.text
        and "8 rows" in card.text
    )
    assert "test_generation.well_formed_rate" in card.text  # the trainer's held-out report
    assert card.data.pipeline_tag == "text-generation"
    # results added later keep the training section
    assert bench_main(["card", str(out), "--results", str(results["torchhub"]), "--allow-other-model"]) == 0
    card = ModelCard.load(out / "README.md")
    assert "**Trainer:** `sft`" in card.text and len(ours(card)) > 0
    assert card.text.count("## Training") == 1


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gorilla_rlaif.cli", "bench", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_push_the_card_to_a_stand_in_hub(tmp_path, results):
    """MOCK Hub (tests/helpers/eval_servers.py): the real Hub is unreachable from this machine."""
    from tests.helpers.eval_servers import ModelHubStandIn

    token = "hf_cardPUSH0123456789abcdef"
    with ModelHubStandIn(token=token) as hub:
        env = {
            **os.environ,
            "HF_ENDPOINT": hub.endpoint,
            "HF_TOKEN": token,
            "HF_HUB_OFFLINE": "0",
            "HF_HOME": str(tmp_path / "hf-home"),
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
        # a Hub id the Hub does not know, without --push: a typo, not a new card written locally
        proc = _cli(
            ["card", "me/tiny-gorila", "--results", str(results["torchhub"]), "--allow-other-model"],
            env,
            tmp_path,
        )
        assert proc.returncode == 2 and "the Hub has no model 'me/tiny-gorila'" in proc.stderr, proc.stderr
        assert not list(tmp_path.glob("*.README.md"))
        # a Hub id without a card yet: a new card, pushed
        proc = _cli(
            [
                "card",
                "me/tiny-gorilla",
                "--results",
                str(results["torchhub"]),
                "--push",
                "--allow-other-model",
            ],
            env,
            tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert "new card" in proc.stdout and "pushed the card to me/tiny-gorilla" in proc.stdout
        assert token not in proc.stdout + proc.stderr
        pushed = ModelCard(hub.files_at("me/tiny-gorilla")["README.md"].decode())
        assert {r.dataset_config for r in ours(pushed)} == {"torchhub"}
        # the card on the Hub is read back, updated with another hub, pushed again
        proc = _cli(
            [
                "card",
                "me/tiny-gorilla",
                "--results",
                str(results["huggingface"]),
                "--push",
                "--allow-other-model",
            ],
            env,
            tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert "updated the card from the Hub" in proc.stdout
        pushed = ModelCard(hub.files_at("me/tiny-gorilla")["README.md"].decode())
        assert {r.dataset_config for r in ours(pushed)} == {"torchhub", "huggingface"}
        assert (tmp_path / "me__tiny-gorilla.README.md").read_text() == str(pushed)
        assert {h for h in hub.auth_headers if h} == {f"Bearer {token}"}

"""`gorilla-rlaif pipeline`: the whole method on a minimal tiny configuration, for real.

One module-scoped run executes every stage (tiny model build, SFT, sampling, rules judge,
dataset publication, reward model, PPO, DPO, sandboxed eval of three models, report); the tests
then check every artifact, that a second run skips everything, and that deleting one stage's
output re-runs exactly that stage and its downstream stages.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.pipeline import MANIFEST, layout, load_pipeline_config, make_pipeline, run_pipeline
from tests.helpers.torch_threads import one_torch_thread  # noqa: F401  (autouse fixture)

# A few prompts and steps: every stage runs, nothing waits on quality. The SFT model overfits 8
# examples, so its samples on other prompts are well-formed often enough to differ in score
# (measured: 8 of 12 prompts get candidates with different scores), which the dataset needs.
MINIMAL = [
    "torch_threads=1",
    "base.tiny={vocab_size: 1000, n_layer: 2, n_embd: 128, n_head: 2, n_positions: 512, corpus_hubs: [torchhub]}",
    "sft.max_steps=80",
    "sft.data.max_samples=8",
    "sft.learning_rate=3e-3",
    "sft.warmup_steps=5",
    "sft.per_device_train_batch_size=8",
    "sft.logging_steps=20",
    "generate.limit=12",
    "generate.num_candidates=4",
    "generate.max_new_tokens=128",
    "generate.temperature=1.0",
    "publish.test_fraction=0.5",
    "reward.num_train_epochs=1",
    "reward.warmup_steps=0",
    "ppo.total_episodes=8",
    "ppo.per_device_train_batch_size=4",
    "ppo.local_rollout_forward_batch_size=4",
    "ppo.num_mini_batches=1",
    "ppo.num_ppo_epochs=1",
    "ppo.response_length=32",
    "dpo.num_train_epochs=1",
    "eval.limit=4",
    "eval.generation.max_new_tokens=128",
    "eval.bootstrap=50",
]
ALL_STAGES = [
    "data",
    "base",
    "sft",
    "generate",
    "label",
    "publish",
    "reward",
    "ppo",
    "dpo",
    "eval-sft",
    "eval-ppo",
    "eval-dpo",
    "report",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pipeline")
    config = load_pipeline_config("tiny", overrides=MINIMAL)
    started = time.perf_counter()
    manifest = run_pipeline(config, directory, progress=False)
    return directory, config, manifest, time.perf_counter() - started


def test_every_stage_runs_and_leaves_its_artifacts(run_dir):
    directory, _, manifest, _ = run_dir
    paths = layout(directory)
    assert manifest["pipeline"]["status"] == "done"
    assert manifest["pipeline"]["stage_order"] == ALL_STAGES
    assert manifest["runs"][-1]["ran"] == ALL_STAGES
    for name in ALL_STAGES:
        record = manifest["stages"][name]
        assert record["status"] == "done", name
        assert record["duration_s"] > 0 and len(record["input_hash"]) == 64 and record["output_hash"]
        assert record["versions"]["transformers"]

    # the published dataset loads with `datasets` like any Hub dataset, no prompt in both splits
    from datasets import load_dataset

    prefs = load_dataset(str(paths["dataset"]), "preferences")
    assert len(prefs["train"]) >= 1 and len(prefs["test"]) >= 1
    for row in prefs["train"]:
        assert row["score_chosen"] > row["score_rejected"]
    assert not set(prefs["train"]["prompt_id"]) & set(prefs["test"]["prompt_id"])
    binary = load_dataset(str(paths["dataset"]), "binary")
    assert set(binary["train"].column_names) >= {"prompt", "completion", "label", "score"}
    feedback_rows = [json.loads(line) for line in paths["feedback"].read_text().splitlines()]
    candidates = paths["candidates"].read_text().splitlines()
    assert len(feedback_rows) == len(candidates) >= 12
    assert {r["judge"]["backend"] for r in feedback_rows} == {"rules"}

    # checkpoints load; each records what it was trained from
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    for name in ("sft", "ppo", "dpo"):
        AutoModelForCausalLM.from_pretrained(paths[name])
        record = json.loads((paths[name] / "gorilla_rlaif.meta.json").read_text())
        assert record["trainer"] == name
    reward = AutoModelForSequenceClassification.from_pretrained(paths["reward"])
    assert reward.config.num_labels == 1
    ppo_record = json.loads((paths["ppo"] / "gorilla_rlaif.meta.json").read_text())
    assert ppo_record["inputs"]["model"]["model"] == str(paths["sft"])

    # eval results for each trained model, with the paper's metrics
    for name in ("sft", "ppo", "dpo"):
        results = json.loads((paths["eval"] / _slug(paths[name]) / name / "results.json").read_text())
        block = results["hubs"]["torchhub"]
        assert block["n"] == 4
        for metric in ("ast_accuracy", "hallucination_rate", "rouge_l", "codebleu", "executability"):
            assert 0.0 <= block["metrics"][metric]["value"] <= 1.0, (name, metric)

    # the report: the paper-shaped table, a plot, a card per trained model
    table = (paths["report"] / "comparison.md").read_text()
    for column in ("AST accuracy", "Hallucination", "ROUGE-L", "CodeBLEU", "Executability"):
        assert column in table
    rows = [line for line in table.splitlines() if line.startswith("| SFT")]
    assert len(rows) == 3 and all(len(line.split("|")) == 10 for line in rows)
    assert (paths["report"] / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("sft", "ppo", "dpo"):
        card = (paths[name] / "README.md").read_text()
        assert "model-index" in card and "AST accuracy" in card
        assert (paths["report"] / "cards" / f"{name}.md").read_text() == card
    summary = paths["summary"].read_text()
    assert all(f"| {name} |" in summary for name in ALL_STAGES) and "AST accuracy" in summary


def _slug(path: Path) -> str:
    from gorilla_rlaif.eval import model_slug

    return model_slug(str(path))


def test_second_run_skips_every_stage(run_dir):
    directory, config, first, first_seconds = run_dir
    before = {name: dict(first["stages"][name]) for name in ALL_STAGES}
    started = time.perf_counter()
    manifest = run_pipeline(config, directory, progress=False)
    seconds = time.perf_counter() - started
    assert manifest["runs"][-1]["ran"] == []
    assert manifest["runs"][-1]["skipped"] == ALL_STAGES
    for name in ALL_STAGES:  # records untouched: nothing was re-done
        assert manifest["stages"][name]["finished_at"] == before[name]["finished_at"]
        assert manifest["stages"][name]["output_hash"] == before[name]["output_hash"]
    assert seconds < first_seconds / 5, (seconds, first_seconds)


def test_deleting_one_output_reruns_it_and_what_depends_on_it(run_dir):
    directory, config, _, _ = run_dir
    paths = layout(directory)
    shutil.rmtree(paths["reward"])
    plan = make_pipeline(config, directory, progress=False).plan()
    predicted = [d.stage.name for d in plan if d.run]
    manifest = run_pipeline(config, directory, progress=False)
    ran = manifest["runs"][-1]["ran"]
    # reward feeds PPO only: DPO (from the SFT model and the dataset) and everything upstream stay
    assert ran == ["reward", "ppo", "eval-ppo", "report"]
    assert predicted == ran
    assert manifest["runs"][-1]["skipped"] == [s for s in ALL_STAGES if s not in ran]
    assert (paths["reward"] / "gorilla_rlaif.meta.json").exists()


def test_moved_run_stays_up_to_date_and_push_reruns_publish_only(run_dir, tmp_path):
    """A finished run copied elsewhere is still up to date (paths hash as $DIR/...); asking for
    --push-to-hub changes only the publish stage, which re-runs and pushes the dataset, tagged.
    MOCK Hub: tests/helpers/hub_server.py stands in for huggingface.co over real HTTP."""
    import os
    import subprocess
    import sys

    from tests.helpers.hub_server import HubStandIn

    directory = run_dir[0]
    moved = tmp_path / "moved"
    shutil.copytree(directory, moved)  # copy2: file times kept, so the hash cache stays valid
    token = "hf_pipelineSECRET0123456789"
    with HubStandIn(token=token) as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token, "HF_HUB_OFFLINE": "0"}
        args = ["pipeline", "--no-progress", "-o", str(moved), "--until", "publish"]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "gorilla_rlaif.cli",
                "rlaif",
                *args,
                "--push-to-hub",
                "me/feedback",
                *MINIMAL,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert token not in proc.stdout + proc.stderr
        manifest = json.loads((moved / MANIFEST).read_text())
        assert manifest["runs"][-1]["ran"] == ["publish"]
        assert manifest["runs"][-1]["skipped"] == ["data", "base", "sft", "generate", "label"]
        assert manifest["stages"]["publish"]["result"]["pushed"]["tag"] == "v0.1.0"
        tagged = hub.files_at("me/feedback", "v0.1.0")
        local = layout(moved)["dataset"]
        assert (
            tagged["preferences/train-00000-of-00001.parquet"]
            == (local / "preferences" / "train-00000-of-00001.parquet").read_bytes()
        )


def test_pipeline_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="did you mean 'max_steps'"):
        load_pipeline_config("tiny", overrides=["sft.max_stepz=3"])
    with pytest.raises(ConfigError, match=r"ppo\.reward_model is set by the pipeline"):
        load_pipeline_config("tiny", overrides=["ppo.reward_model=elsewhere"])
    with pytest.raises(ConfigError, match="generate: temperature 0 is greedy"):
        load_pipeline_config("tiny", overrides=["generate.temperature=0"])
    with pytest.raises(ConfigError, match="unknown config key 'jduge'"):
        load_pipeline_config("tiny", overrides=["jduge.judge=rules"])
    with pytest.raises(ConfigError, match="unknown preset"):
        load_pipeline_config("huge")


def test_paper_preset_is_complete_and_marked(tmp_path):
    config = load_pipeline_config("paper")
    assert config.base.model == "gpt2-large"
    assert config.judge.judge == "openai:gpt-3.5-turbo" and config.judge.openai.llm.model == "gpt-3.5-turbo"
    assert config.reward["mode"] == "classifier" and config.eval["sandbox"]["backend"] == "docker"
    names = [s.name for s in make_pipeline(config, tmp_path, progress=False).stages]
    assert "base" not in names and names[-1] == "report"  # a Hub model: nothing to build
    # every setting of the paper preset says where it comes from
    from gorilla_rlaif.pipeline import preset_path

    unmarked = []
    for number, line in enumerate(preset_path("paper").read_text().splitlines(), start=1):
        text = line.split("#")[0].rstrip()
        if not text or line.lstrip().startswith("#") or text.endswith(":"):
            continue
        key = text.strip().split(":")[0]
        if key in ("name", "torch_threads", "seed", "logging_steps", "save_steps", "version"):
            continue
        if "# = trainers/configs/" in line:  # a section that is the trainer's preset, marked there
            continue
        if not any(mark in line for mark in ("[paper]", "[ours]", "[TRL]")):
            unmarked.append(f"{number}: {line.strip()}")
    assert not unmarked, "paper.yaml settings without a source mark:\n" + "\n".join(unmarked)


def test_cli_dry_run_and_flags(tmp_path, capsys):
    from gorilla_rlaif.cli import rlaif_main

    code = rlaif_main(
        [
            "pipeline",
            "--preset",
            "tiny",
            "-o",
            str(tmp_path / "out"),
            "--judge",
            "openai:judge-model",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--push-to-hub",
            "me/feedback",
            "--dry-run",
            "eval.limit=7",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "judge: openai:judge-model" in out and "base_url: http://127.0.0.1:9/v1" in out
    assert "push_to_hub: me/feedback" in out and "limit: 7" in out
    assert "[13/13] run  report" in out and "never ran" in out
    assert not (tmp_path / "out" / MANIFEST).exists()  # a dry run writes nothing
    assert rlaif_main(["pipeline", "-o", str(tmp_path / "o"), "sft.nope=1"]) == 2


def test_training_stage_through_accelerate_launch(tmp_path, capsys):
    """launch.launcher=accelerate runs the trainer as `accelerate launch -m gorilla_rlaif.cli rlaif train sft` (one CPU
    process here; N GPUs on a GPU machine) and records the same run as the in-process call."""
    from gorilla_rlaif.cli import rlaif_main

    args = [
        "pipeline",
        "--no-progress",
        "-o",
        str(tmp_path),
        "--until",
        "sft",
        "base.tiny={vocab_size: 500, n_layer: 1, n_embd: 32, n_head: 2, corpus_hubs: [torchhub]}",
        "sft.max_steps=2",
        "launch.launcher=accelerate",
        "launch.extra_args=[--cpu]",
    ]
    assert rlaif_main(args) == 0
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["pipeline"]["status"] == "stopped after sft"
    assert manifest["stages"]["sft"]["result"]["launcher"] == "accelerate"
    record = json.loads((tmp_path / "models" / "sft" / "gorilla_rlaif.meta.json").read_text())
    assert record["trainer"] == "sft" and record["config"]["max_steps"] == 2
    assert (tmp_path / "models" / "sft.launch.yaml").exists()
    out = capsys.readouterr().out
    assert "sft        ran" in out and "generate   not run" in out

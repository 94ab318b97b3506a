"""Each trainer runs a few real TRL steps with the tiny model and leaves a loadable checkpoint.

The models are trained for seconds, so the assertions are about behaviour (checkpoint reloads and
generates, weights move, rewards are finite, a clearly separable preference set is learned), not
about quality. Trainers chain as in the method: SFT -> reward model -> PPO / GRPO, SFT -> DPO.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gorilla_rlaif import trainers
from gorilla_rlaif.train import CONFIG_FILE, PROVENANCE_FILE
from tests.helpers.preference_data import write_preference_dataset


def run_trainer(name: str, output_dir: Path, *overrides: str) -> Path:
    config = trainers.load_config(name, None, [f"output_dir={output_dir}", *overrides], preset="tiny")
    out = trainers.train(name, config)
    assert out == output_dir
    return out


def record(run_dir: Path) -> dict:
    return json.loads((run_dir / PROVENANCE_FILE).read_text())


def reloads_and_generates(run_dir: Path) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gorilla_rlaif.data import build_prompt

    tokenizer = AutoTokenizer.from_pretrained(run_dir)
    model = AutoModelForCausalLM.from_pretrained(run_dir)
    batch = tokenizer(build_prompt("Load a pretrained image classifier."), return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    new_tokens = out.shape[1] - batch["input_ids"].shape[1]
    assert new_tokens >= 1
    return tokenizer.decode(out[0, batch["input_ids"].shape[1] :])


def weights_changed(before: Path, after: Path) -> float:
    """Largest absolute change of any policy weight between two checkpoints."""
    from safetensors.torch import load_file

    a, b = load_file(before / "model.safetensors"), load_file(after / "model.safetensors")
    shared = [k for k in a if k in b and a[k].shape == b[k].shape]
    assert len(shared) >= len(a) - 1  # same architecture (a tied head may be stored once)
    return max((a[k].float() - b[k].float()).abs().max().item() for k in shared)


@pytest.fixture(scope="module")
def prefs_dir(tmp_path_factory) -> Path:
    return write_preference_dataset(tmp_path_factory.mktemp("prefs"))


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory, tiny_model_path) -> Path:
    return run_trainer(
        "sft",
        tmp_path_factory.mktemp("runs") / "sft",
        f"model={tiny_model_path}",
        "max_steps=8",
        "warmup_steps=0",
        "learning_rate=1e-3",
        "per_device_train_batch_size=8",
        "data.max_samples=64",
        "data.eval_samples=4",
        "eval_max_new_tokens=16",
        "logging_steps=1",
    )


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory, sft_dir, prefs_dir) -> Path:
    return run_trainer(
        "reward",
        tmp_path_factory.mktemp("runs") / "rm",
        f"model={sft_dir}",
        f"dataset.path={prefs_dir}",
        "num_train_epochs=3",
        "learning_rate=1e-3",
        "warmup_steps=0",
        "logging_steps=5",
    )


def test_sft_trains_on_completions_and_checkpoint_reloads(sft_dir, tiny_model_path):
    reloads_and_generates(sft_dir)
    rec = record(sft_dir)
    assert rec["trainer"] == "sft"
    assert rec["config"]["max_steps"] == 8
    assert rec["inputs"]["data"]["kind"] == "apibench" and rec["inputs"]["data"]["rows"] == 64
    assert rec["inputs"]["model"]["model"] == str(tiny_model_path)
    assert set(rec["inputs"]["model"]["files_sha256"]) >= {"config.json", "model.safetensors"}
    assert rec["versions"]["trl"].startswith("1.12")
    loss = rec["metrics"]["train"]["loss"]
    assert loss["n"] == 8 and loss["last"] < loss["first"]  # it learns
    assert math.isfinite(rec["metrics"]["test_loss"])
    report = rec["metrics"]["test_generation"]
    assert report["n"] == 4 and 0 <= report["well_formed_rate"] <= 1 and len(report["samples"]) == 3
    assert [row["step"] for row in rec["log_history"] if "loss" in row] == list(range(1, 9))
    # the echoed config reloads to the same config
    again = trainers.load_config("sft", sft_dir / CONFIG_FILE)
    assert (
        again.model_dump() == trainers.load_trainer("sft").CONFIG.model_validate(rec["config"]).model_dump()
    )
    assert not (sft_dir / "checkpoints").exists()


def test_reward_model_ranks_chosen_over_rejected_on_held_out_pairs(rm_dir, prefs_dir):
    from datasets import load_dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from gorilla_rlaif.train.rewards import SequenceScorer

    rec = record(rm_dir)
    assert rec["trainer"] == "reward" and rec["method"] == "pairwise"
    test = rec["metrics"]["test"]
    assert test["n"] >= 30
    assert test["pairwise_accuracy"] >= 0.85, test  # chance is 0.5
    data = rec["inputs"]["data"]
    assert data["config"] == "preferences" and data["splits"]["test"]["rows"] == test["n"]
    assert "preferences/train-00000-of-00001.parquet" in data["files_sha256"]
    # the saved checkpoint is the trained model: re-scoring it independently gives the same number
    tokenizer = AutoTokenizer.from_pretrained(rm_dir)
    model = AutoModelForSequenceClassification.from_pretrained(rm_dir)
    pairs = load_dataset(str(prefs_dir), "preferences")["test"]
    scorer = SequenceScorer(model, tokenizer)
    chosen = scorer.score_pairs(pairs["prompt"], pairs["chosen"])
    rejected = scorer.score_pairs(pairs["prompt"], pairs["rejected"])
    accuracy = sum(c > r for c, r in zip(chosen, rejected, strict=True)) / len(chosen)
    assert accuracy == pytest.approx(test["pairwise_accuracy"])


def test_acceptability_classifier_mode(tmp_path, sft_dir, prefs_dir):
    out = run_trainer(
        "reward",
        tmp_path / "acc",
        "mode=classifier",
        f"model={sft_dir}",
        f"dataset.path={prefs_dir}",
        "num_train_epochs=4",
        "learning_rate=1e-3",
        "warmup_steps=0",
    )
    rec = record(out)
    assert rec["method"] == "classifier" and rec["inputs"]["data"]["config"] == "binary"
    test = rec["metrics"]["test"]
    assert test["majority_baseline"] == pytest.approx(0.5)
    assert test["accuracy"] >= 0.75, test
    from transformers import AutoModelForSequenceClassification

    assert AutoModelForSequenceClassification.from_pretrained(out).config.num_labels == 1


def test_ppo_changes_policy_and_logs_reward_kl_length(tmp_path, sft_dir, rm_dir):
    out = run_trainer(
        "ppo",
        tmp_path / "ppo",
        f"model={sft_dir}",
        f"reward_model={rm_dir}",
        "total_episodes=16",
        "per_device_train_batch_size=8",
        "local_rollout_forward_batch_size=8",
        "num_mini_batches=2",
        "num_ppo_epochs=1",
        "response_length=24",
        "learning_rate=1e-4",
        "data.eval_samples=2",
    )
    reloads_and_generates(out)
    assert weights_changed(sft_dir, out) > 0
    rec = record(out)
    train = rec["metrics"]["train"]
    assert train["objective/scores"]["n"] == 2  # two rollout batches of 8
    for key in ("objective/scores", "objective/rm_score", "objective/kl"):
        assert math.isfinite(train[key]["last"]), key
    assert 1 <= train["objective/response_length"]["mean"] <= 24
    assert rec["inputs"]["reward_model"]["model"] == str(rm_dir)
    assert rec["inputs"]["reward_model"]["produced_by"]["trainer"] == "reward"


def test_dpo_runs_and_reports_held_out_preference_accuracy(tmp_path, sft_dir, prefs_dir):
    out = run_trainer(
        "dpo",
        tmp_path / "dpo",
        f"model={sft_dir}",
        f"dataset.path={prefs_dir}",
        "max_steps=4",
        "per_device_train_batch_size=4",
        "logging_steps=1",
        "learning_rate=1e-4",
    )
    reloads_and_generates(out)
    assert weights_changed(sft_dir, out) > 0
    test = record(out)["metrics"]["test"]
    # before training policy == reference, every margin is 0 and the accuracy (strict >) is 0
    assert test["n"] >= 30 and test["preference_accuracy"] >= 0.7, test
    assert test["mean_margin"] > 0


def test_grpo_with_reward_model_and_format_rewards(tmp_path, sft_dir, rm_dir):
    out = run_trainer(
        "grpo",
        tmp_path / "grpo",
        f"model={sft_dir}",
        f"rewards=[{{kind: reward_model, path: {rm_dir}, weight: 1.0}}, {{kind: format, weight: 0.5}},"
        " {kind: execution, sandbox: {backend: local}, weight: 0.25}]",
        "max_steps=2",
        "per_device_train_batch_size=4",
        "num_generations=4",
        "max_completion_length=24",
        "learning_rate=1e-4",
        "logging_steps=1",
        "data.eval_samples=2",
    )
    reloads_and_generates(out)
    assert weights_changed(sft_dir, out) > 0
    rec = record(out)
    assert rec["metrics"]["reward_functions"] == {"reward_model": 1.0, "format": 0.5, "execution": 0.25}
    train = rec["metrics"]["train"]
    assert train["rewards/reward_model/mean"]["n"] == 2
    assert math.isfinite(train["reward"]["last"])
    assert 0 <= train["rewards/format/mean"]["last"] <= 1
    assert 0 <= train["rewards/execution/mean"]["last"] <= 1


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path, tiny_model_path, monkeypatch):
    from transformers import Trainer

    from gorilla_rlaif.errors import ConfigError

    out = tmp_path / "sft"
    args = [
        f"model={tiny_model_path}",
        "max_steps=4",
        "save_steps=2",
        "per_device_train_batch_size=4",
        "data.max_samples=16",
        "data.eval_samples=0",
        "logging_steps=1",
    ]
    save = Trainer._save_checkpoint

    def save_then_die(self, model, trial):  # the process is killed right after checkpoint-2
        save(self, model, trial)
        raise RuntimeError("killed")

    monkeypatch.setattr(Trainer, "_save_checkpoint", save_then_die)
    with pytest.raises(RuntimeError, match="killed"):
        run_trainer("sft", out, *args)
    monkeypatch.setattr(Trainer, "_save_checkpoint", save)
    assert (out / "checkpoints" / "checkpoint-2").is_dir() and not (out / PROVENANCE_FILE).exists()

    with pytest.raises(ConfigError, match="different config"):
        run_trainer("sft", out, *args, "learning_rate=1e-3")
    run_trainer("sft", out, *args)
    rec = record(out)
    assert rec["resumed_from"] == str(out / "checkpoints" / "checkpoint-2")
    assert [row["step"] for row in rec["log_history"] if "loss" in row] == [1, 2, 3, 4]
    assert not (out / "checkpoints").exists()
    reloads_and_generates(out)


def test_data_parallel_run_with_two_processes_writes_one_run(tmp_path, tiny_model_path):
    """Data-parallel training as on a multi-GPU node, here as 2 CPU processes (gloo).

    `accelerate launch --cpu` always starts a single process, so the CPU stand-in for
    `accelerate launch --multi_gpu` is torchrun (which accelerate itself uses on GPUs).
    """
    import os
    import subprocess
    import sys

    out = tmp_path / "sft-ddp"
    launch = [str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node", "2"]
    launch += ["-m", "gorilla_rlaif.cli", "rlaif", "train", "sft"]
    launch += ["-o", str(out), f"model={tiny_model_path}", "device=cpu", "precision=fp32", "max_steps=2"]
    launch += ["per_device_train_batch_size=8", "data.max_samples=16", "data.eval_samples=2"]
    launch += ["eval_max_new_tokens=8", "logging_steps=1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run(launch, cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = record(out)
    # 16 examples, 8 per process, 2 processes: one step is one epoch (half an epoch with one process)
    assert rec["log_history"][-1]["epoch"] == pytest.approx(2.0)
    assert proc.stderr.count("saved sft model") == 1  # only the main process writes
    reloads_and_generates(out)


def test_execution_reward_scores_gold_above_broken_code_in_the_local_sandbox():
    """The execution reward runs completions in the real sandbox and matches the gold API."""
    from gorilla_rlaif.data import format_target, load_records
    from gorilla_rlaif.train.config import ExecutionSpec
    from gorilla_rlaif.train.execution import ExecutionReward

    record = next(r for r in load_records("torchhub", "eval").records if r.output is not None)
    gold = format_target(record.output)
    runs = gold.replace(record.output.code, "import math\nprint(math.sqrt(4))")
    broken = gold.replace(record.output.code, "import math\nprint(math.sqrt(4)")
    hallucinated = runs.replace(record.output.api_call, "torch.hub.load('nobody/nothing', 'made_up_model')")
    reward = ExecutionReward(ExecutionSpec(sandbox={"backend": "local", "timeout_s": 20, "workers": 2}))
    scores = reward(["p"] * 4, [runs, broken, hallucinated, "no code here"], id=[record.id] * 4)
    # runs + gold API (AST correct), syntax error + gold API, runs + unknown API, nothing at all
    assert scores == [1.0, 0.5, 0.5, 0.0]

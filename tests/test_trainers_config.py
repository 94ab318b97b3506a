"""Config and data errors are reported clearly, before any model is loaded or any file written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gorilla_rlaif import trainers
from gorilla_rlaif.cli import rlaif_main
from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.train import PROVENANCE_FILE
from tests.helpers.preference_data import write_preference_dataset

REPO = Path(__file__).resolve().parents[1]


def cli_error(capsys, *argv: str) -> str:
    """Run `gorilla-rlaif train ...`; it must fail with exit code 2 and one error line."""
    assert rlaif_main(["train", *argv]) == 2
    err = capsys.readouterr().err.strip()
    # datasets may draw a progress bar while reading the data before the error
    assert "Traceback" not in err and err.splitlines()[-1].startswith("gorilla-rlaif: error: ")
    return err.splitlines()[-1]


@pytest.fixture(scope="module")
def broken_prefs(tmp_path_factory) -> Path:
    """A dataset whose `preferences` lacks `rejected` and whose `binary` lacks `label`."""
    return write_preference_dataset(
        tmp_path_factory.mktemp("broken"),
        max_prompts=24,
        drop_columns={"preferences": ["rejected"], "binary": ["label"]},
    )


@pytest.fixture(scope="module")
def good_prefs(tmp_path_factory) -> Path:
    return write_preference_dataset(tmp_path_factory.mktemp("good"), max_prompts=24)


def test_unknown_key_suggests_the_right_one(capsys, tmp_path):
    err = cli_error(capsys, "sft", "-o", str(tmp_path / "out"), "max_step=3")
    assert "unknown config key 'max_step'" in err and "did you mean 'max_steps'" in err
    err = cli_error(capsys, "sft", "-o", str(tmp_path / "out"), "data.max_sample=3")
    assert "'data.max_sample'" in err and "did you mean 'max_samples'" in err
    assert not (tmp_path / "out").exists()


def test_trl_passthrough_is_checked_against_the_trl_config(capsys, tmp_path, tiny_model_path):
    common = ("-o", str(tmp_path / "out"), f"model={tiny_model_path}")
    err = cli_error(capsys, "sft", *common, "trl.adam_epsiln=1e-6")
    assert "trl.adam_epsiln is not a field of SFTConfig" in err and "did you mean 'adam_epsilon'" in err
    err = cli_error(capsys, "sft", *common, "trl.learning_rate=0.1")
    assert "set learning_rate=... instead of trl.learning_rate" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("trainer", "extra", "column"),
    [("reward", [], "'rejected'"), ("dpo", [], "'rejected'"), ("reward", ["mode=classifier"], "'label'")],
)
def test_missing_dataset_column_is_reported_before_training(
    capsys, tmp_path, tiny_model_path, broken_prefs, trainer, extra, column
):
    err = cli_error(
        capsys,
        trainer,
        "-o",
        str(tmp_path / "out"),
        f"model={tiny_model_path}",
        f"dataset.path={broken_prefs}",
        *extra,
    )
    assert f"split 'train': missing column(s) {column}" in err
    assert "(columns: prompt, " in err and str(broken_prefs) in err
    assert not (tmp_path / "out").exists()


def test_dataset_path_split_and_config_errors(capsys, tmp_path, tiny_model_path, good_prefs):
    common = ("-o", str(tmp_path / "out"), f"model={tiny_model_path}")
    assert "set dataset.path=" in cli_error(capsys, "reward", *common)
    err = cli_error(capsys, "dpo", *common, f"dataset.path={good_prefs}", "dataset.test_split=validation")
    assert "has no split 'validation' (splits: train, test)" in err
    err = cli_error(capsys, "reward", *common, f"dataset.path={good_prefs}", "dataset.name=pairs")
    assert "cannot load dataset" in err and "'pairs'" in err
    err = cli_error(capsys, "reward", *common, f"dataset.path={tmp_path / 'nowhere'}")
    assert "cannot load dataset" in err


def test_model_and_method_errors(capsys, tmp_path, tiny_model_path):
    common = ("-o", str(tmp_path / "out"))
    assert "policy ./no/such/model: no such directory" in cli_error(
        capsys, "sft", *common, "model=./no/such/model"
    )
    assert "ppo needs reward_model=DIR" in cli_error(
        capsys, "ppo", *common, f"model={tiny_model_path}", "reward_model=null"
    )
    err = cli_error(
        capsys,
        "grpo",
        *common,
        "rewards=[{kind: format}]",
        "per_device_train_batch_size=6",
        "num_generations=4",
    )
    assert "must be a multiple of num_generations (4)" in err
    err = cli_error(capsys, "grpo", *common, "rewards=[{kind: judge}]")
    assert "rewards.0" in err and "judge" in err
    err = cli_error(capsys, "ppo", *common, "per_device_train_batch_size=6", "num_mini_batches=4")
    assert "must be a multiple of num_mini_batches (4)" in err
    assert "precision=fp16 needs a GPU" in cli_error(
        capsys, "sft", *common, f"model={tiny_model_path}", "device=cpu", "precision=fp16"
    )
    assert not (tmp_path / "out").exists()


def test_ppo_refuses_a_reward_model_with_another_tokenizer(capsys, tmp_path, tiny_model_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    other = tmp_path / "other-rm"
    AutoModelForSequenceClassification.from_pretrained(tiny_model_path, num_labels=1).save_pretrained(other)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    tokenizer.add_tokens(["<extra_token>"])
    tokenizer.save_pretrained(other)
    err = cli_error(
        capsys, "ppo", "-o", str(tmp_path / "out"), f"model={tiny_model_path}", f"reward_model={other}"
    )
    assert "uses a different tokenizer than the policy" in err


def test_a_finished_run_is_not_overwritten(capsys, tmp_path, tiny_model_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / PROVENANCE_FILE).write_text("{}")
    err = cli_error(capsys, "sft", "-o", str(out), f"model={tiny_model_path}")
    assert "already holds a finished training run" in err and "overwrite=true" in err
    assert (out / PROVENANCE_FILE).read_text() == "{}"


@pytest.mark.parametrize("preset", trainers.PRESETS)
@pytest.mark.parametrize("name", list(trainers.TRAINERS))
def test_every_preset_is_a_valid_config(name, preset):
    path = trainers.preset_path(name, preset)
    text = path.read_text()
    assert "[ours]" in text and ("[paper]" in text or "[TRL]" in text), "settings must say their source"
    config = trainers.load_config(name, None, [], preset=preset)
    assert config.output_dir.startswith(f"runs/{preset}/")


def test_python_m_dry_run_validates_and_writes_nothing(tmp_path, tiny_model_path, good_prefs):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gorilla_rlaif.cli",
            "rlaif",
            "train",
            "dpo",
            "--dry-run",
            "-o",
            str(out),
            f"model={tiny_model_path}",
            f"dataset.path={good_prefs}",
            "beta=0.25",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "beta: 0.25" in proc.stdout and "nothing trained" in proc.stdout
    assert not out.exists()


def test_library_api_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown trainer 'rlhf'"):
        trainers.load_config("rlhf", None, [f"output_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        trainers.load_config("sft", None, [f"output_dir={tmp_path}"], preset="huge")

"""What every training run does around TRL: output dir, device flags, resume, checkpoint, provenance.

Layout of `output_dir` after a run (what `from_pretrained(output_dir)` and model cards read):

    config.json, model.safetensors, generation_config.json, tokenizer*  the trained model (save_pretrained)
    train_config.yaml          the resolved config, reloadable: `gorilla-rlaif train X --config it`
    gorilla_rlaif.meta.json    the run's record, one file (schema below; the sidecar rule)
    checkpoints/               TRL checkpoints while training (`save_steps`), removed after success

The record = `gorilla_rlaif.provenance.provenance(config, inputs=...)` plus:
`trainer` (sft|reward|ppo|dpo|grpo), `method` (e.g. `pairwise`), `inputs.model` (base model id or
dir, revision, file hashes, and the record of the run that produced it when it is ours),
`inputs.data` (dataset id, config, revision, file hashes, rows), `metrics` (held-out numbers and a
summary of the training log), `log_history` (TRL's per-step logs), `duration_s`. Model cards
and the pipeline read this file, so fields are only ever added, never renamed.

A run whose output_dir already holds a finished run is refused unless `overwrite=true`; an
interrupted run with checkpoints made by the same config resumes from the latest one.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from gorilla_rlaif.config import dump_config
from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.io import sha256_file, write_json
from gorilla_rlaif.provenance import provenance, stable_hash
from gorilla_rlaif.sidecar import DIRECTORY_SIDECAR, find_sidecar, read_sidecar
from gorilla_rlaif.tiny import TinyModelConfig
from gorilla_rlaif.train.config import TINY, TrainConfig

log = logging.getLogger(__name__)

PROVENANCE_FILE = DIRECTORY_SIDECAR
CONFIG_FILE = "train_config.yaml"
CHECKPOINTS = "checkpoints"
_CONFIG_HASH_FILE = "config_hash"
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


def device_flags(config: TrainConfig) -> dict[str, bool]:
    """`use_cpu`/`bf16`/`fp16` for TRL. TRL defaults to bf16 everywhere; we decide per machine.

    On CPU, bf16 means autocast with fp32 weights: measured 1.6-3x faster than fp32 on this
    project's 2-core machine, so the tiny presets ask for it; `auto` stays fp32 on CPU (safe).
    """
    import torch

    cuda = torch.cuda.is_available()
    if config.device == "cuda" and not cuda:
        raise ConfigError("device=cuda but no CUDA GPU is visible; use device=cpu or device=auto")
    use_cpu = config.device == "cpu" or not cuda
    if config.precision == "auto":
        bf16, fp16 = (not use_cpu) and torch.cuda.is_bf16_supported(), False
    else:
        bf16, fp16 = config.precision == "bf16", config.precision == "fp16"
    if fp16 and use_cpu:
        raise ConfigError("precision=fp16 needs a GPU; on CPU use precision=bf16 (autocast) or fp32")
    return {"use_cpu": use_cpu, "bf16": bf16, "fp16": fp16}


def resolve_model(name: str, tiny: TinyModelConfig | None = None, *, role: str = "model") -> str:
    """A model id or directory to `from_pretrained`, checked for `role` (`gorilla_rlaif.models`);
    'tiny' builds (or reuses) the toolkit's tiny model."""
    if name == TINY:
        from gorilla_rlaif.tiny import build_tiny_model

        return str(build_tiny_model(tiny))
    from gorilla_rlaif.models import resolve_model as resolve

    return resolve(name, role)


def describe_model(name: str, revision: str | None = None) -> dict[str, Any]:
    """Provenance of a model input: id or dir, revision, weight hashes, and our record of it if any."""
    out: dict[str, Any] = {"model": name, "revision": revision}
    path = Path(name)
    if path.is_dir():
        out["files_sha256"] = {
            p.name: sha256_file(p)
            for p in sorted(path.iterdir())
            if p.suffix in _WEIGHT_SUFFIXES or p.name == "config.json"
        }
        record = find_sidecar(path)
        if record is not None:
            parent = read_sidecar(path) or {}
            out["produced_by"] = {
                "file": record.name,
                "sha256": sha256_file(record),
                "trainer": parent.get("trainer", "tiny-model"),
                "inputs": parent.get("inputs"),
            }
    return out


def training_args(cls: type, config: TrainConfig, **specific: Any) -> Any:
    """Build the TRL config `cls` from our shared fields, `specific` ones, and `config.trl`.

    Pure (writes nothing), so trainers call it before loading any model, dry runs included.
    Keys in `config.trl` must be fields of `cls` and must not repeat a field we set from the
    config (set that one directly instead): both are `ConfigError`s with a suggestion.
    """
    import dataclasses
    import difflib

    c = config
    kwargs: dict[str, Any] = {
        "output_dir": str(Path(c.output_dir).expanduser() / CHECKPOINTS),
        "seed": c.seed,
        "learning_rate": c.learning_rate,
        "max_steps": c.max_steps,
        "num_train_epochs": c.num_train_epochs,
        "per_device_train_batch_size": c.per_device_train_batch_size,
        "per_device_eval_batch_size": c.per_device_eval_batch_size,
        "gradient_accumulation_steps": c.gradient_accumulation_steps,
        "warmup_steps": c.warmup_steps,
        "lr_scheduler_type": c.lr_scheduler_type,
        "weight_decay": c.weight_decay,
        "max_grad_norm": c.max_grad_norm,
        "logging_steps": c.logging_steps,
        "gradient_checkpointing": c.gradient_checkpointing,
        "save_strategy": "steps" if c.save_steps else "no",
        "save_steps": c.save_steps or 500,
        "save_total_limit": 1,
        "report_to": "none",
        **device_flags(c),
    }
    kwargs.update(specific)
    fields = {f.name for f in dataclasses.fields(cls)}
    if "activation_checkpointing" in fields:  # transformers >= 5.x renamed it (old name warns)
        kwargs["activation_checkpointing"] = kwargs.pop("gradient_checkpointing")
    for key, value in c.trl.items():
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"trl.{key} is not a field of {cls.__name__}{hint}")
        if key in kwargs and key not in ("report_to", "save_total_limit"):
            raise ConfigError(
                f"trl.{key} is set by this trainer's config: set {key}=... instead of trl.{key}"
            )
        kwargs[key] = _checked(cls, key, value)
    unknown = set(kwargs) - fields
    if unknown:  # a TRL version without a field we rely on: say so instead of a TypeError
        raise ConfigError(f"{cls.__name__} of the installed trl has no field(s) {sorted(unknown)}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid {cls.__name__}: {exc}") from None


def _checked(cls: type, key: str, value: Any) -> Any:
    """`value` validated against the type TRL declares for `key`: TRL's dataclasses do not check
    types, so `adam_beta1=abc` would pass a dry run and fail mid-training."""
    import typing

    from pydantic import TypeAdapter, ValidationError

    from gorilla_rlaif.config import describe_errors

    try:
        hint = typing.get_type_hints(cls).get(key)
        adapter = TypeAdapter(hint) if hint is not None else None
    except Exception:  # a type pydantic cannot build a validator for: TRL checks it at run time
        return value
    if adapter is None:
        return value
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, prefix=f"trl.{key}")) from None
    return value


def _latest_checkpoint(directory: Path) -> Path | None:
    found = [p for p in directory.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


class TrainRun:
    """One training run's output directory and bookkeeping. Library trainers create one first."""

    def __init__(self, trainer: str, config: TrainConfig, method: str | None = None):
        self.trainer = trainer
        self.method = method
        self.config = config
        self.output_dir = Path(config.output_dir).expanduser()
        self.checkpoint_dir = self.output_dir / CHECKPOINTS
        self.resume_from: str | None = None
        self.started = time.time()
        self.inputs: dict[str, Any] = {}

    @classmethod
    def start(cls, trainer: str, config: TrainConfig, method: str | None = None) -> TrainRun:
        """Check the output dir (refuse to clobber, find a checkpoint to resume), echo the config, seed."""
        run = cls(trainer, config, method)
        run._prepare_output_dir()
        from transformers import set_seed

        set_seed(config.seed)
        return run

    @property
    def config_hash(self) -> str:
        data = self.config.model_dump(mode="json")
        data.pop("overwrite", None)
        return stable_hash(data)

    def _prepare_output_dir(self) -> None:
        from accelerate import PartialState

        main_process = PartialState().is_main_process  # under `accelerate launch`, one process writes
        out = self.output_dir
        if out.exists() and not out.is_dir():
            raise ConfigError(f"output_dir {out} is a file")
        if (out / PROVENANCE_FILE).exists() and not self.config.overwrite:
            raise ConfigError(
                f"{out} already holds a finished training run ({PROVENANCE_FILE}); "
                "choose another output_dir or set overwrite=true"
            )
        if self.config.overwrite and main_process:
            (out / PROVENANCE_FILE).unlink(missing_ok=True)
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)
        latest = _latest_checkpoint(self.checkpoint_dir) if self.checkpoint_dir.is_dir() else None
        if latest is not None:
            stored = self.checkpoint_dir / _CONFIG_HASH_FILE
            if not stored.exists() or stored.read_text().strip() != self.config_hash:
                raise ConfigError(
                    f"{self.checkpoint_dir} holds checkpoints of a run with a different config; "
                    "resume with the same config, or set overwrite=true to start over"
                )
            self.resume_from = str(latest)
            log.info("resuming from %s", latest)
        if main_process:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            (self.checkpoint_dir / _CONFIG_HASH_FILE).write_text(self.config_hash + "\n")
            dump_config(self.config, out / CONFIG_FILE)

    def finish(
        self,
        trainer: Any,
        tokenizer: Any,
        *,
        metrics: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Save model + tokenizer with `trainer.save_model` (handles multi-GPU), then the run record."""
        trainer.save_model(str(self.output_dir))
        if not trainer.is_world_process_zero():
            return self.output_dir
        model_input = self.inputs.get("model")
        if isinstance(model_input, dict) and "files_sha256" not in model_input:  # a Hub model
            model_input["commit"] = getattr(trainer.model.config, "_commit_hash", None)
        tokenizer.save_pretrained(str(self.output_dir))
        log_history = list(trainer.state.log_history)
        record = provenance(
            self.config,
            inputs=self.inputs,
            trainer=self.trainer,
            method=self.method,
            config_hash=self.config_hash,
            resumed_from=self.resume_from,
            duration_s=round(time.time() - self.started, 1),
            metrics=metrics,
            log_history=log_history,
            **(extra or {}),
        )
        write_json(self.output_dir / PROVENANCE_FILE, record)
        shutil.rmtree(self.checkpoint_dir, ignore_errors=True)
        self._write_card()
        log.info("saved %s model and %s to %s", self.trainer, PROVENANCE_FILE, self.output_dir)
        return self.output_dir

    def _write_card(self) -> None:
        """README.md with how the model was trained (a model card; eval results are added by
        `gorilla-bench card`). The model is already saved: a card problem is reported, not raised."""
        from gorilla_rlaif.errors import GorillaRlaifError
        from gorilla_rlaif.model_card import write_model_card

        try:
            write_model_card(self.output_dir)
        except (GorillaRlaifError, OSError, ValueError) as exc:
            log.warning("trained model saved, but its model card could not be written: %s", exc)


def summarize_log(log_history: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    """First, last and mean of each logged key (e.g. reward going up, KL staying small)."""
    out: dict[str, Any] = {}
    for key in keys:
        values = [row[key] for row in log_history if isinstance(row.get(key), (int, float))]
        if values:
            out[key] = {
                "first": values[0],
                "last": values[-1],
                "mean": sum(values) / len(values),
                "n": len(values),
            }
    return out

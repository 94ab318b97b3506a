"""Finding and loading checkpoints, checked for the role they play, with errors that say which.

Every stage that loads a model (generate, the hf judge, eval, the trainers, the GRPO reward)
goes through here, so a bad model is refused the same way everywhere and before any work:

- a local directory must be a `save_pretrained` directory: `config.json`, weights, tokenizer;
- its architecture must fit the role: a policy, generator or judge is a causal LM
  (`...ForCausalLM`, `...LMHeadModel`), a reward or value model a sequence classifier
  (`...ForSequenceClassification`). transformers loads either into the other with only a log
  line, and training then runs against a randomly initialised head;
- a name that is not a directory is a Hub id; one that looks like a path (`./x`, `runs/x`
  that does not exist and is not `org/name`-shaped on an offline machine) is refused;
- loading errors (a truncated `model.safetensors`, a tokenizer that cannot be built) become one
  `ConfigError` naming the model and the role.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from gorilla_rlaif.errors import ConfigError

Kind = Literal["causal", "classifier"]
# role -> the kind of model it must be (None: either; a reward model may start from a causal LM)
ROLES: dict[str, Kind | None] = {
    "model": "causal",
    "base model": None,
    "policy": "causal",
    "generator": "causal",
    "judge": "causal",
    "reward model": "classifier",
    "value model": "classifier",
}
_SUFFIXES: dict[Kind, tuple[str, ...]] = {
    "causal": ("ForCausalLM", "LMHeadModel"),
    "classifier": ("ForSequenceClassification",),
}
_KIND_TEXT = {"causal": "a causal LM", "classifier": "a sequence classifier"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model", "spiece.model")
WEIGHT_SUFFIXES = (".safetensors", ".bin")


def hub_offline() -> bool:
    """HF_HUB_OFFLINE is set (any Hub request would fail)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def architecture(path: str | Path) -> str | None:
    """The class name `config.json` records (`architectures[0]`), if any."""
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    names = config.get("architectures") or []
    return str(names[0]) if names else None


def check_role(path: str | Path, role: str) -> None:
    """Refuse a local checkpoint whose architecture does not fit `role`, naming both."""
    kind = ROLES[role]
    arch = architecture(path)
    if kind is None or arch is None or arch.endswith(_SUFFIXES[kind]):
        return
    other = next((k for k, suffixes in _SUFFIXES.items() if arch.endswith(suffixes)), None)
    what = _KIND_TEXT[other] if other else "not a model this role can use"
    raise ConfigError(
        f"{path} is {what} ({arch}), but the {role} must be {_KIND_TEXT[kind]} "
        f"(an architecture ending in {' or '.join(_SUFFIXES[kind])})"
    )


def check_model_dir(path: str | Path, role: str = "model", *, tokenizer: bool = True) -> Path:
    """A local `save_pretrained` directory fit for `role`: config, weights, tokenizer files."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{role} {path} is not a directory")
    if not (path / "config.json").is_file():
        raise ConfigError(f"{role} {path} has no config.json (not a save_pretrained directory)")
    if not any(p.suffix in WEIGHT_SUFFIXES for p in path.iterdir()):
        raise ConfigError(f"{role} {path} has no weights (*.safetensors or *.bin)")
    if tokenizer and not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise ConfigError(
            f"{role} {path} has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}, ...): save the "
            "tokenizer next to the model (tokenizer.save_pretrained(DIR))"
        )
    check_role(path, role)
    return path


def resolve_model(name: str, role: str = "model", *, tokenizer: bool = True) -> str:
    """A local directory (checked) or a Hub id, for `from_pretrained`. A name that looks like a
    path but is not a directory is an error, as is a Hub id the offline machine has not cached."""
    path = Path(name).expanduser()
    if path.exists():
        return str(check_model_dir(path, role, tokenizer=tokenizer))
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or name.endswith("/")
    if looks_like_path:
        raise ConfigError(f"{role} {name}: no such directory")
    if hub_offline():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(name, "config.json")
        except Exception:  # an invalid repo id: say so below
            cached = None
        if not isinstance(cached, str):
            raise ConfigError(
                f"{role} {name}: not a local directory, and not in the Hugging Face cache while the Hub "
                "is offline (HF_HUB_OFFLINE=1); give a model directory or download the model first"
            )
        check_role(Path(cached).parent, role)
    return name


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def load_tokenizer(name: str, *, revision: str | None = None, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, revision=revision, **kwargs)
    except Exception as exc:  # any failure here is the checkpoint's, not the toolkit's
        raise ConfigError(f"cannot load the tokenizer of {name}: {_one_line(exc)}") from None


def load_model(name: str, role: str, *, revision: str | None = None, **kwargs: Any) -> Any:
    """`AutoModelForCausalLM` or `AutoModelForSequenceClassification` (by role) from `name`."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    cls = AutoModelForCausalLM if ROLES[role] == "causal" else AutoModelForSequenceClassification
    try:
        return cls.from_pretrained(name, revision=revision, **kwargs)
    except Exception as exc:  # a truncated weights file, a missing shard, an unknown architecture
        raise ConfigError(f"cannot load the {role} {name}: {_one_line(exc)}") from None


def load_causal_lm(
    name: str, *, role: str = "model", revision: str | None = None, **kwargs: Any
) -> tuple[Any, Any]:
    """(model, tokenizer) of a causal LM, checked for `role` first."""
    resolved = resolve_model(name, role)
    return load_model(resolved, role, revision=revision, **kwargs), load_tokenizer(
        resolved, revision=revision
    )

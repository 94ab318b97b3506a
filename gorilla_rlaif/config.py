"""Config objects from YAML files plus `key=value` overrides, validated before any work starts.

Precedence is defaults < YAML file < command line, as in TRL's scripts. Unknown keys are errors
with a "did you mean" (a typo must not silently fall back to a default), and values are merged by
presence, never by truthiness, so `lr=0` or `name=""` override like any other value.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gorilla_rlaif.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`["a.b=1", "name=x"]` -> `{"a": {"b": 1}, "name": "x"}`. Values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        node[parts[-1]] = value
    return out


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def check_keys(model: type[BaseModel], data: dict[str, Any], where: str = "") -> None:
    """Raise `ConfigError` for keys the model does not define, suggesting the closest field."""
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(fields))}"
            raise ConfigError(f"unknown config key {where + key!r}{hint}")
        annotation = fields[key].annotation
        if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            check_keys(annotation, value, where=f"{where}{key}.")


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def load_config(
    model: type[M],
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    base: dict[str, Any] | None = None,
) -> M:
    """Build a validated config: `base` (e.g. a preset) < YAML file < `key=value` overrides."""
    data: dict[str, Any] = dict(base or {})
    if path is not None:
        data = deep_merge(data, read_yaml(path))
    if overrides:
        data = deep_merge(data, parse_overrides(overrides))
    check_keys(model, data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<config>'}: {err['msg']}" for err in exc.errors()
        )
        source = f" (from {path})" if path else ""
        raise ConfigError(f"invalid {model.__name__}{source}: {problems}") from None


def dump_config(config: BaseModel, path: str | Path) -> None:
    """Echo the resolved config next to the artifact it made (YAML, loadable by `load_config`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")

"""Config objects from YAML files plus `key=value` overrides, validated before any work starts.

Precedence is defaults < YAML file < command line, as in TRL's scripts. Unknown keys are errors
with a "did you mean" (a typo must not silently fall back to a default), and values are merged by
presence, never by truthiness, so `lr=0` or `name=""` override like any other value.

Two things every config in the toolkit shares live here, once:

- `describe_errors`: the one formatter that turns a pydantic `ValidationError` into one line,
  naming each bad key (or the command-line flag that set it) and what is wrong with it;
- `operational(...)` / `identity(config)`: a field marked operational changes how fast or where
  a job runs, not what it computes (batch size, concurrency, output path); `identity` is the
  config without those fields, what results are keyed by (eval run names, resume keys).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from gorilla_rlaif.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_OPERATIONAL = "operational"


def operational(default: Any = ..., **kwargs: Any) -> Any:
    """`Field(...)` for a setting that does not change results (see the module docstring)."""
    return Field(default, json_schema_extra={_OPERATIONAL: True}, **kwargs)


def is_operational(model: type[BaseModel], name: str) -> bool:
    extra = model.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and extra.get(_OPERATIONAL) is True


def identity(config: BaseModel) -> dict[str, Any]:
    """The config as JSON without its operational fields, nested models and lists of them included."""

    def prune(value: Any, dumped: Any) -> Any:
        if isinstance(value, BaseModel):
            return {
                name: prune(getattr(value, name), dumped[name])
                for name in type(value).model_fields
                if name in dumped and not is_operational(type(value), name)
            }
        if isinstance(value, (list, tuple)) and isinstance(dumped, list):
            return [prune(v, d) for v, d in zip(value, dumped, strict=True)]
        return dumped

    return prune(config, config.model_dump(mode="json"))


# ---- one formatter for validation errors ------------------------------------------------------------
def _loc(parts: tuple[Any, ...]) -> str:
    # pydantic adds the name of a validator or union member to some locations: not a key
    return ".".join(
        str(p) for p in parts if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
    )


def _shown(value: Any) -> str | None:
    if isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 60):
        return repr(value)
    return None


def describe_errors(exc: ValidationError, *, names: Mapping[str, str] | None = None, prefix: str = "") -> str:
    """One line for a `ValidationError`: `KEY: problem (got VALUE); KEY2: ...`.

    `names` maps a dotted key to how the user wrote it (a flag such as `--timeout`); other keys
    are shown as `PREFIX` + the dotted key (e.g. `eval.sandbox.timeout_s`). A problem of the whole
    object (a check across fields) is its message alone."""
    names = names or {}
    parts: list[str] = []
    for err in exc.errors():
        key = _loc(err["loc"])
        where = names.get(key) or (prefix + key if key else prefix.rstrip("."))
        message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        got = _shown(err.get("input")) if err.get("type") != "missing" else None
        if got is not None and not isinstance(err.get("input"), dict) and "got" not in message:
            message += f" (got {got})"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(dict.fromkeys(parts)).replace("\n", " ")


# ---- reading and merging ----------------------------------------------------------------------------
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


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model of a field annotated `Model` or `Model | None`, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return nested_model(members[0])
    return None


def check_keys(model: type[BaseModel], data: dict[str, Any], where: str = "") -> None:
    """Raise `ConfigError` for keys the model does not define, suggesting the closest field."""
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(fields))}"
            raise ConfigError(f"unknown config key {where + key!r}{hint}")
        inner = nested_model(fields[key].annotation)
        if isinstance(value, dict) and inner is not None:
            check_keys(inner, value, where=f"{where}{key}.")


def read_yaml(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML mapping from a file; a missing file, a directory, bytes that are not UTF-8 and YAML
    that is not a mapping are each one `ConfigError` naming `what` and the path."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} not found: {path}")
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a directory (expected a YAML file)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text (UTF-8) YAML file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def validate(
    model: type[M],
    data: dict[str, Any],
    *,
    names: Mapping[str, str] | None = None,
    prefix: str = "",
    source: str | Path | None = None,
) -> M:
    """Check keys, then validate; every problem becomes one `ConfigError` line (see `describe_errors`)."""
    check_keys(model, data, where=prefix)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        origin = f" (from {source})" if source else ""
        raise ConfigError(describe_errors(exc, names=names, prefix=prefix) + origin) from None


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
    return validate(model, data, source=path)


def dump_config(config: BaseModel, path: str | Path) -> None:
    """Echo the resolved config next to the artifact it made (YAML, loadable by `load_config`)."""
    from gorilla_rlaif.io import write_text

    write_text(path, yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))

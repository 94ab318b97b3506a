"""One way in for every command: `--config FILE` + flags + `key=value`, into one config object.

A command is a `Command`: its config class (a pydantic model the library function takes whole),
the flags that set some of its keys, the keys that are outputs, and `run(config, args)`. Every
command is parsed and validated here, the same way:

    class defaults < preset (train, pipeline) < --config FILE < flags < key=value overrides

A flag names the config key it sets and nothing else: its help and its default are read from
the model's field (so they are written once, next to the field), its choices from a `Literal`
type. Values are validated by the model, and every problem becomes one line through
`gorilla_rlaif.config.describe_errors`, naming the flag the user typed (`--timeout: ...`) or the
key (`sandbox.timeout_s: ...`). Output keys are checked before any work starts
(`gorilla_rlaif.io.check_output`): a directory given for a file, a read-only mount or a full disk
is refused with nothing written.

Why not pydantic-settings' or jsonargparse's CLI: both derive flag names from field paths
(`--sandbox.timeout_s`), which would rename every documented flag, and neither takes bare
`key=value` overrides, which `train` and `pipeline` have always taken; this module is the
~200 lines that keep both.
"""

from __future__ import annotations

import argparse
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from gorilla_rlaif.config import deep_merge, nested_model, parse_overrides, read_yaml, validate
from gorilla_rlaif.errors import ConfigError

_UNSET: Any = object()
_OVERRIDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*=")


@dataclass(frozen=True)
class Flag:
    """A command-line argument that sets one config key (`names` empty: a positional argument)."""

    key: str
    names: tuple[str, ...] = ()
    metavar: str | None = None
    nargs: str | None = None
    value: Any = _UNSET  # a switch: the flag takes no argument and sets this value
    parse: Callable[[Any], Any] | None = None  # turn the text into the key's value
    help: str | None = None  # default: the field's description
    choices: Sequence[str] | None = None  # default: the field's Literal values
    append: bool = False  # repeatable; the values arrive as a list

    @property
    def positional(self) -> bool:
        return not self.names

    @property
    def shown(self) -> str:
        return self.names[0] if self.names else (self.metavar or self.key.upper())


def flag(key: str, *names: str, **kwargs: Any) -> Flag:
    """`flag("generation.max_new_tokens")` is `--max-new-tokens`; pass names to choose others."""
    if not names:
        names = ("--" + key.rpartition(".")[2].replace("_", "-"),)
    return Flag(key, tuple(names), **kwargs)


def positional(key: str, metavar: str, nargs: str | None = None, **kwargs: Any) -> Flag:
    return Flag(key, (), metavar=metavar, nargs=nargs, **kwargs)


@dataclass
class Command:
    """A command: `run(config, args)` on a config built from `config_class` (see the module doc)."""

    help: str
    config_class: type[BaseModel] | None = None
    run: Callable[[Any, argparse.Namespace], int | None] | None = None
    flags: Sequence[Flag] = ()
    outputs: Mapping[str, Literal["file", "dir"]] = field(default_factory=dict)
    description: str = ""
    epilog: str = ""
    # extra arguments that are actions, not settings (`--dry-run`, `--until`)
    extra: Callable[[argparse.ArgumentParser], None] | None = None
    # `args` -> the base dict under --config (a preset)
    preset: Callable[[argparse.Namespace], dict[str, Any]] | None = None
    subcommands: Mapping[str, Command] | None = None
    title: str = "commands"


# ---- building the parser ----------------------------------------------------------------------------
def model_field(model: type[BaseModel], key: str) -> tuple[Any, Any]:
    """(annotation, default) of a dotted key, walking nested models and their defaults."""
    annotation: Any = model
    default: Any = None
    current: type[BaseModel] | None = model
    for part in key.split("."):
        if current is None:
            if isinstance(default, dict) or annotation is Any or typing.get_origin(annotation) is dict:
                return Any, None  # inside a free-form section (a pipeline stage's dict)
            raise KeyError(key)
        if part not in current.model_fields:
            raise KeyError(key)
        info = current.model_fields[part]
        annotation = info.annotation
        if default is not None and isinstance(default, BaseModel):
            default = getattr(default, part)
        elif info.is_required():
            default = None
        else:
            default = info.get_default(call_default_factory=True)
        current = nested_model(annotation)
    return annotation, default


def _description(model: type[BaseModel], key: str) -> str:
    parent, _, leaf = key.rpartition(".")
    owner = nested_model(model_field(model, parent)[0]) if parent else model
    return (owner.model_fields[leaf].description or "") if owner and leaf in owner.model_fields else ""


def _literal_values(annotation: Any) -> list[str] | None:
    """The choices of a `Literal[...]` field (also `Literal[...] | None` and lists of them)."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return [str(v) for v in typing.get_args(annotation)]
    if origin in (typing.Union, types.UnionType, list, tuple):
        for member in typing.get_args(annotation):
            values = _literal_values(member)
            if values:
                return values
    return None


def _help(model: type[BaseModel], spec: Flag) -> str:
    text = spec.help if spec.help is not None else _description(model, spec.key)
    default = model_field(model, spec.key)[1]
    if (
        spec.value is _UNSET
        and "default" not in text
        and default not in (None, "", [], (), {})
        and not isinstance(default, BaseModel)
    ):
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        text = f"{text} (default: {shown})" if text else f"default: {shown}"
    return text.replace("%", "%%")


def add_command(parser: argparse.ArgumentParser, command: Command) -> None:
    """The arguments of `command` (or its subcommands) on `parser`."""
    if command.subcommands:
        sub = parser.add_subparsers(title=command.title, metavar="ACTION", required=True)
        for name, child in command.subcommands.items():
            p = sub.add_parser(
                name,
                help=child.help,
                description=child.description or child.help,
                epilog=child.epilog or None,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            add_command(p, child)
        return
    model = command.config_class
    assert model is not None and command.run is not None
    parser.set_defaults(_command=command)
    positionals = [f for f in command.flags if f.positional]
    usage = " ".join(f.shown + ("..." if f.nargs == "+" else "") for f in positionals)
    parser.add_argument(
        "_positionals",
        nargs="*",
        metavar=f"{usage} [KEY=VALUE ...]" if usage else "KEY=VALUE",
        help=(f"{usage}: see below; " if usage else "")
        + "KEY=VALUE overrides any config key (nested keys with dots; values are YAML)",
    )
    parser.add_argument(
        "--config", "-c", metavar="FILE", help="YAML file of config keys (flags and KEY=VALUE override it)"
    )
    for spec in positionals:
        group = parser.add_argument_group(f"{spec.shown}")
        group.description = _help(model, spec)
    for spec in command.flags:
        if spec.positional:
            continue
        kwargs: dict[str, Any] = {"help": _help(model, spec), "dest": "flag:" + spec.key, "default": _UNSET}
        if spec.value is not _UNSET:
            kwargs.update(action="store_const", const=spec.value)
        else:
            choices = (
                spec.choices if spec.choices is not None else _literal_values(model_field(model, spec.key)[0])
            )
            metavar = spec.metavar or (None if choices else spec.key.rpartition(".")[2].upper())
            kwargs.update(metavar=metavar, nargs=spec.nargs)
            if choices:
                kwargs["choices"] = list(choices)
            if spec.append:  # argparse appends to a copy of the default: start from None, not _UNSET
                kwargs.update(action="append", default=None)
        parser.add_argument(*spec.names, **kwargs)
    if command.extra is not None:
        command.extra(parser)


# ---- building the config ----------------------------------------------------------------------------
def _set(data: dict[str, Any], key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            # a section given by name (`sandbox: local`) keeps that name as its backend
            child = node[part] = {"backend": child} if isinstance(child, str) else {}
        node = child
    node[parts[-1]] = value


def _get(config: BaseModel, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part, None)
    return value


def split_positionals(command: Command, tokens: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Positional tokens -> (values of the positional flags, KEY=VALUE overrides)."""
    overrides = [t for t in tokens if _OVERRIDE.match(t)]
    rest = [t for t in tokens if not _OVERRIDE.match(t)]
    values: dict[str, Any] = {}
    specs = [f for f in command.flags if f.positional]
    for spec in specs:
        if not rest:
            break
        if spec.nargs in ("+", "*"):
            values[spec.key], rest = list(rest), []
        else:
            values[spec.key] = rest.pop(0)
    if rest:
        raise ConfigError(f"unexpected argument {rest[0]!r} (overrides are KEY=VALUE)")
    return values, overrides


def build_config(command: Command, args: argparse.Namespace) -> BaseModel:
    """The command's config from everything on the command line (see the module docstring)."""
    model = command.config_class
    assert model is not None
    data: dict[str, Any] = command.preset(args) if command.preset else {}
    if getattr(args, "config", None):
        data = deep_merge(data, read_yaml(args.config))
    # errors name a key as the user set it: the flag typed, else the key (and its flag, if any)
    names = {spec.key: f"{spec.key} ({spec.shown})" for spec in command.flags}
    given, overrides = split_positionals(command, getattr(args, "_positionals", []) or [])
    for spec in command.flags:
        value = given.get(spec.key, _UNSET) if spec.positional else getattr(args, "flag:" + spec.key, _UNSET)
        if spec.append and value is None:
            value = _UNSET
        if value is _UNSET:
            continue
        if spec.parse is not None:
            value = spec.parse(value)
        _set(data, spec.key, value)
        names[spec.key] = spec.shown
    if overrides:
        data = deep_merge(data, parse_overrides(overrides))
    for spec in command.flags:  # a required positional that nothing gave: name it as typed
        top = model.model_fields.get(spec.key.split(".")[0])
        if spec.positional and _get_dict(data, spec.key) is _UNSET and top is not None and top.is_required():
            raise ConfigError(f"missing {spec.shown}: {_description(model, spec.key) or spec.key}")
    config = validate(model, data, names=names, source=getattr(args, "config", None))
    for key, kind in command.outputs.items():
        value = _get(config, key)
        if value is not None and str(value) != "-":
            from gorilla_rlaif.io import check_output

            check_output(Path(str(value)), kind)
    return config


def _get_dict(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _UNSET
        node = node[part]
    return node


def commands_of(command: Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Command]]:
    """Every leaf command with its path of subcommand names (for `--help` tables and tests)."""
    if command.subcommands:
        out = []
        for name, child in command.subcommands.items():
            out += commands_of(child, (*path, name))
        return out
    return [(path, command)]

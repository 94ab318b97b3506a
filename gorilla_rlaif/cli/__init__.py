"""Command-line entry points: `gorilla-rlaif` (data, labels, training, pipeline) and
`gorilla-bench` (scoring, execution, evaluation, cards).

Each command is a module of this package holding `COMMAND`, a `command.Command`: its config
class, the flags that set its keys, its outputs and `run(config, args)`; the tables below list
them explicitly (no registry magic). Every command takes `--config FILE` and `KEY=VALUE`
overrides the same way (`command.build_config`). Command modules import heavy libraries (torch,
transformers) inside `run`, so `--help` stays instant.

`main` is the one place where errors meet the user: bad input (a `GorillaRlaifError`, a
pydantic `ValidationError` from anywhere, an `OSError` on a file) is one line on stderr and exit
code 2, never a traceback. Only this module configures logging; library code logs through
`getLogger(__name__)`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Sequence

from gorilla_rlaif import __version__
from gorilla_rlaif.cli.command import Command, add_command, build_config
from gorilla_rlaif.errors import GorillaRlaifError

RLAIF_COMMANDS: dict[str, str] = {
    "data": "gorilla_rlaif.cli.data",
    "tiny-model": "gorilla_rlaif.cli.tiny_model",
    "generate": "gorilla_rlaif.cli.generate",
    "label": "gorilla_rlaif.cli.label",
    "judge-report": "gorilla_rlaif.cli.judge_report",
    "preferences": "gorilla_rlaif.cli.preferences",
    "train": "gorilla_rlaif.cli.train",
    "pipeline": "gorilla_rlaif.cli.pipeline",
}

BENCH_COMMANDS: dict[str, str] = {
    "score": "gorilla_rlaif.cli.score",
    "exec": "gorilla_rlaif.cli.exec",
    "eval": "gorilla_rlaif.cli.eval",
    "report": "gorilla_rlaif.cli.report",
    "leaderboard": "gorilla_rlaif.cli.leaderboard",
    "compare": "gorilla_rlaif.cli.compare",
    "card": "gorilla_rlaif.cli.card",
    "world": "gorilla_rlaif.cli.world",
    "serve": "gorilla_rlaif.cli.serve",
}

PROGRAMS = {
    "gorilla-rlaif": (
        "RLAIF for API-usage code generation: build APIBench data, sample candidates, label them "
        "with an AI judge, publish preference datasets, train with TRL, run the whole pipeline.",
        RLAIF_COMMANDS,
    ),
    "gorilla-bench": (
        "Benchmark API-usage code generation: Gorilla AST accuracy and hallucination, ROUGE-L, "
        "CodeBLEU, and executability of generated code in a sandbox.",
        BENCH_COMMANDS,
    ),
}

EPILOG = "Run '%(prog)s COMMAND --help' for a command's options. Docs: README.md."


def command_of(module_name: str) -> Command:
    return importlib.import_module(module_name).COMMAND


def build_parser(program: str) -> argparse.ArgumentParser:
    description, commands = PROGRAMS[program]
    parser = argparse.ArgumentParser(prog=program, description=description, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, module_name in commands.items():
        module = importlib.import_module(module_name)
        command: Command = module.COMMAND
        p = sub.add_parser(
            name,
            help=command.help,
            description=(module.__doc__ or command.help).strip(),
            epilog=command.epilog or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_command(p, command)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpx2", "httpcore", "urllib3", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


_NUMBER = re.compile(r"^-\d|^-\.\d")


def parse(program: str, argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """Parse `argv`; tokens after the flags that are not flags are positionals or KEY=VALUE."""
    parser = build_parser(program)
    args, extra = parser.parse_known_args(argv)
    unknown = [t for t in extra if t.startswith("-") and not _NUMBER.match(t)]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if extra:
        args._positionals = [*(getattr(args, "_positionals", None) or []), *extra]
    return parser, args


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def main(program: str, argv: Sequence[str] | None = None) -> int:
    try:
        parser, args = parse(program, argv)
    except SystemExit as exc:  # --help, --version, or argparse's own usage error (exit code 2)
        return int(exc.code or 0)
    command: Command | None = getattr(args, "_command", None)
    if command is None:
        parser.print_help()
        return 0
    _configure_logging(args)
    from pydantic import ValidationError

    from gorilla_rlaif.config import describe_errors

    try:
        config = build_config(command, args)
        return int(command.run(config, args) or 0)
    except GorillaRlaifError as exc:
        message = str(exc)
    except ValidationError as exc:  # a config built inside a command from bad input
        message = describe_errors(exc)
    except OSError as exc:  # the disk, not the toolkit: name the file and the reason
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}{exc.strerror or exc}"
    except KeyboardInterrupt:
        print(
            f"{program}: interrupted; finished results are saved, re-run the same command to resume",
            file=sys.stderr,
        )
        return 130
    print(f"{program}: error: {one_line(message)}", file=sys.stderr)
    return 2


def rlaif_main(argv: Sequence[str] | None = None) -> int:
    return main("gorilla-rlaif", argv)


def bench_main(argv: Sequence[str] | None = None) -> int:
    return main("gorilla-bench", argv)

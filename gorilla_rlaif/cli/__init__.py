"""Command-line entry points: `gorilla-rlaif` (data, labels, training, pipeline) and
`gorilla-bench` (scoring, execution, evaluation, cards).

Each command is a module of this package with `HELP` (one line), `configure(parser)` and
`run(args) -> int`; the tables below list them explicitly (no registry magic). Command modules
import heavy libraries (torch, transformers) inside `run`, so `--help` stays instant.
Only this module configures logging; library code logs through `getLogger(__name__)`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gorilla_rlaif import __version__
from gorilla_rlaif.errors import GorillaRlaifError

RLAIF_COMMANDS: dict[str, str] = {
    "data": "gorilla_rlaif.cli.data",
    "tiny-model": "gorilla_rlaif.cli.tiny_model",
    "generate": "gorilla_rlaif.cli.generate",
    "label": "gorilla_rlaif.cli.label",
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
    "card": "gorilla_rlaif.cli.card",
    "world": "gorilla_rlaif.cli.world",
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
        command = sub.add_parser(
            name,
            help=module.HELP,
            description=(module.__doc__ or module.HELP).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(command)
        command.set_defaults(_run=module.run)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore", "urllib3", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main(program: str, argv: Sequence[str] | None = None) -> int:
    parser = build_parser(program)
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 0
    _configure_logging(args)
    try:
        return int(args._run(args) or 0)
    except GorillaRlaifError as exc:
        print(f"{program}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"{program}: interrupted; finished results are saved, re-run the same command to resume",
            file=sys.stderr,
        )
        return 130


def rlaif_main(argv: Sequence[str] | None = None) -> int:
    return main("gorilla-rlaif", argv)


def bench_main(argv: Sequence[str] | None = None) -> int:
    return main("gorilla-bench", argv)

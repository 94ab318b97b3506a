"""Arguments shared by several commands, defined once so they read the same everywhere."""

from __future__ import annotations

import argparse

from gorilla_rlaif.data.schema import HUBS


def add_data_source_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("APIBench source (local dir > Hub > bundled copy)")
    group.add_argument("--data-dir", help="a local directory holding APIBench files (plain or .gz)")
    group.add_argument(
        "--source",
        choices=("auto", "local", "hub", "bundled"),
        default="auto",
        help="force one source (default: auto, in the order above)",
    )
    group.add_argument(
        "--revision", help="revision of the Hub dataset gorilla-llm/APIBench (default: pinned)"
    )


def add_hub_arg(
    parser: argparse.ArgumentParser, *, multiple: bool = False, default: str | None = None
) -> None:
    kwargs = {"nargs": "+"} if multiple else {}
    parser.add_argument(
        "--hub",
        default=[default] if (multiple and default) else default,
        required=default is None,
        help=f"APIBench hub: {', '.join(HUBS)} (aliases: hf, tf, torch)",
        **kwargs,
    )

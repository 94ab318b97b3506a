"""Look at, export and split APIBench.

gorilla-rlaif data info --hub torchhub
gorilla-rlaif data export --hub huggingface --split eval --output hf_eval.jsonl
gorilla-rlaif data splits --hub torchhub --output-dir runs/splits --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.cli.command import Command, flag
from gorilla_rlaif.data.schema import HUBS
from gorilla_rlaif.data.sources import HubName, Source
from gorilla_rlaif.data.splits import SplitConfig

HELP = "inspect, export and split APIBench (train/eval records and the API database)"
HUB_HELP = f"APIBench hub: {', '.join(HUBS)} (aliases: hf, tf, torch)"


class DataSource(BaseModel):
    """Where APIBench is read from: a local directory, else the Hub, else the bundled copy."""

    model_config = ConfigDict(extra="forbid")

    data_dir: str | None = Field(None, description="a local directory holding APIBench files (plain or .gz)")
    source: Source = Field("auto", description="force one source (default: auto, in the order above)")
    revision: str | None = Field(None, description="revision of the Hub dataset gorilla-llm/APIBench")

    @property
    def source_kwargs(self) -> dict[str, Any]:
        """These three settings as `load_records` / `load_api_db` take them."""
        return self.model_dump(include=set(DataSource.model_fields))


class InfoConfig(DataSource):
    hub: HubName = Field("torchhub", description=HUB_HELP)
    failures: bool = Field(False, description="list every record that could not be parsed")


class ExportConfig(DataSource):
    hub: HubName = Field(description=HUB_HELP)
    split: Literal["train", "eval", "api"] = Field(
        "eval", description="records of a split, or the API entries"
    )
    output: str = Field(description="output .jsonl path ('-' for stdout)")
    strict: bool = Field(False, description="fail if any record cannot be parsed")


class SplitsConfig(BaseModel):
    """`data splits`: the split (`SplitConfig`, whole) and where it goes."""

    model_config = ConfigDict(extra="forbid")

    split: SplitConfig = Field(default_factory=SplitConfig)
    output_dir: str = Field(
        description="sft/rm/rl/test JSONL + their record (gorilla_rlaif.meta.json) go here"
    )


# The same three source flags wherever APIBench is read (`prefix` = where the keys live).
def source_flags(prefix: str = "") -> list:
    return [flag(f"{prefix}data_dir"), flag(f"{prefix}source"), flag(f"{prefix}revision")]


def _fractions(text: str) -> Any:
    from gorilla_rlaif.config import parse_overrides

    return parse_overrides([f.strip() for f in str(text).split(",") if f.strip()])


def _api_db_examples(text: str) -> bool | None:
    return {"auto": None, "yes": True, "no": False}[text]


def _info(config: InfoConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.data import load_api_db, load_records, normalize_hub
    from gorilla_rlaif.data.sources import available
    from gorilla_rlaif.errors import DataError

    hub = normalize_hub(config.hub)
    source = config.source_kwargs
    for split in ("train", "eval"):
        try:
            result = load_records(hub, split, **source)
        except DataError as exc:
            if split == "train" and not available(hub, "train", config.data_dir):
                print(f"{hub} {split}: not available ({exc})")
                continue
            raise
        print(
            f"{hub} {split}: {result.summary()}  [{result.file['source']}, sha256 {result.file['sha256'][:12]}]"
        )
        if config.failures:
            for failure in result.failures:
                print(f"  {failure}")
    db = load_api_db(hub, **source)
    domains = {e.domain for e in db.entries}
    print(f"{hub} api: {len(db)} entries, {len(domains)} domains  [{db.file['source']}]")
    return 0


def _export(config: ExportConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.data import load_api_db, load_records, normalize_hub

    hub = normalize_hub(config.hub)
    source = config.source_kwargs
    if config.split == "api":
        db = load_api_db(hub, **source)
        rows = [e.model_dump(mode="json") for e in db.entries]
        summary = f"{len(rows)} API entries"
    else:
        result = load_records(hub, config.split, strict=config.strict, **source)
        rows = [
            {
                "id": r.id,
                "question_id": r.question_id,
                "line": r.line,
                "instruction": r.instruction,
                "input": r.input,
                **{f"output_{k}": v for k, v in (r.output.model_dump() if r.output else {}).items()},
                "parse_error": r.parse_error,
                "api_call": r.api_call,
                "provider": r.provider,
                "api_data": r.api_data.model_dump(mode="json"),
            }
            for r in result.records
        ]
        summary = result.summary()
    if config.output == "-":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        from gorilla_rlaif.io import write_jsonl

        write_jsonl(config.output, rows)
        print(f"wrote {config.output}: {summary}", file=sys.stderr)
    return 0


def _splits(config: SplitsConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.data import make_splits

    splits = make_splits(config.split)
    out = splits.save(config.output_dir)
    counts = ", ".join(f"{k} {v}" for k, v in splits.manifest["counts"].items())
    print(f"wrote {out}: {counts} (test: {splits.manifest['test_mode']})")
    return 0


COMMAND = Command(
    HELP,
    title="data commands",
    subcommands={
        "info": Command(
            "record counts, parse failures and sources of a hub's files",
            InfoConfig,
            _info,
            flags=[flag("hub", choices=()), flag("failures", value=True), *source_flags()],
        ),
        "export": Command(
            "write parsed records (or API entries) as JSON Lines",
            ExportConfig,
            _export,
            flags=[
                flag("hub", choices=()),
                flag("split"),
                flag("output", "--output", "-o"),
                flag("strict", value=True),
                *source_flags(),
            ],
            outputs={"output": "file"},
        ),
        "splits": Command(
            "deterministic sft / rm / rl / test splits (no shared instruction)",
            SplitsConfig,
            _splits,
            flags=[
                flag("split.hub", "--hub", choices=()),
                flag("output_dir", "--output-dir", "-o"),
                flag("split.seed", "--seed"),
                flag("split.fractions", "--fractions", metavar="sft=0.6,rm=0.2,rl=0.2", parse=_fractions),
                flag("split.test", "--test"),
                flag("split.holdout_fraction", "--holdout-fraction"),
                flag(
                    "split.api_db_examples",
                    "--api-db-examples",
                    choices=("auto", "yes", "no"),
                    parse=_api_db_examples,
                ),
                flag("split.data_dir", "--data-dir"),
                flag("split.source", "--source"),
            ],
            outputs={"output_dir": "dir"},
        ),
    },
)

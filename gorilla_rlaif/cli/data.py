"""Look at, export and split APIBench.

gorilla-rlaif data info --hub torchhub
gorilla-rlaif data export --hub huggingface --split eval --output hf_eval.jsonl
gorilla-rlaif data splits --hub torchhub --output-dir runs/splits --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys

from gorilla_rlaif.cli._common import add_data_source_args, add_hub_arg

HELP = "inspect, export and split APIBench (train/eval records and the API database)"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(title="data commands", metavar="ACTION", required=True)

    info = sub.add_parser("info", help="record counts, parse failures and sources of a hub's files")
    add_hub_arg(info, default="torchhub")
    add_data_source_args(info)
    info.add_argument("--failures", action="store_true", help="list every record that could not be parsed")
    info.set_defaults(_action=_info)

    export = sub.add_parser("export", help="write parsed records (or API entries) as JSON Lines")
    add_hub_arg(export)
    export.add_argument("--split", choices=("train", "eval", "api"), default="eval")
    export.add_argument("--output", "-o", required=True, help="output .jsonl path ('-' for stdout)")
    export.add_argument("--strict", action="store_true", help="fail if any record cannot be parsed")
    add_data_source_args(export)
    export.set_defaults(_action=_export)

    splits = sub.add_parser(
        "splits", help="deterministic sft / rm / rl / test splits (no shared instruction)"
    )
    add_hub_arg(splits, default="torchhub")
    splits.add_argument("--output-dir", "-o", required=True)
    splits.add_argument("--seed", type=int, default=0)
    splits.add_argument("--fractions", default="sft=0.6,rm=0.2,rl=0.2", help="shares of the training pool")
    splits.add_argument(
        "--test",
        choices=("eval", "holdout"),
        default="eval",
        help="test set: the hub's eval file (default) or a seeded hold-out of the pool",
    )
    splits.add_argument("--holdout-fraction", type=float, default=0.2)
    splits.add_argument(
        "--api-db-examples",
        choices=("auto", "yes", "no"),
        default="auto",
        help="add one SFT example per documented API (auto: when no train file)",
    )
    add_data_source_args(splits)
    splits.set_defaults(_action=_splits)


def run(args: argparse.Namespace) -> int:
    return args._action(args)


def _source_kwargs(args: argparse.Namespace) -> dict:
    return {"data_dir": args.data_dir, "source": args.source, "revision": args.revision}


def _info(args: argparse.Namespace) -> int:
    from gorilla_rlaif.data import load_api_db, load_records, normalize_hub
    from gorilla_rlaif.data.sources import available
    from gorilla_rlaif.errors import DataError

    hub = normalize_hub(args.hub)
    for split in ("train", "eval"):
        try:
            result = load_records(hub, split, **_source_kwargs(args))
        except DataError as exc:
            if split == "train" and not available(hub, "train", args.data_dir):
                print(f"{hub} {split}: not available ({exc})")
                continue
            raise
        print(
            f"{hub} {split}: {result.summary()}  [{result.file['source']}, sha256 {result.file['sha256'][:12]}]"
        )
        if args.failures:
            for failure in result.failures:
                print(f"  {failure}")
    db = load_api_db(hub, **_source_kwargs(args))
    domains = {e.domain for e in db.entries}
    print(f"{hub} api: {len(db)} entries, {len(domains)} domains  [{db.file['source']}]")
    return 0


def _export(args: argparse.Namespace) -> int:
    from gorilla_rlaif.data import load_api_db, load_records, normalize_hub

    hub = normalize_hub(args.hub)
    if args.split == "api":
        db = load_api_db(hub, **_source_kwargs(args))
        rows = [e.model_dump(mode="json") for e in db.entries]
        summary = f"{len(rows)} API entries"
    else:
        result = load_records(hub, args.split, strict=args.strict, **_source_kwargs(args))
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
    if args.output == "-":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        from gorilla_rlaif.io import write_jsonl

        write_jsonl(args.output, rows)
        print(f"wrote {args.output}: {summary}", file=sys.stderr)
    return 0


def _splits(args: argparse.Namespace) -> int:
    from gorilla_rlaif.config import parse_overrides
    from gorilla_rlaif.data import SplitConfig, make_splits, normalize_hub

    fractions = parse_overrides([f.strip() for f in args.fractions.split(",") if f.strip()])
    config = SplitConfig(
        hub=normalize_hub(args.hub),
        seed=args.seed,
        fractions=fractions,
        test=args.test,
        holdout_fraction=args.holdout_fraction,
        api_db_examples=None if args.api_db_examples == "auto" else args.api_db_examples == "yes",
        data_dir=args.data_dir,
        source=args.source,
    )
    splits = make_splits(config)
    out = splits.save(args.output_dir)
    counts = ", ".join(f"{k} {v}" for k, v in splits.manifest["counts"].items())
    print(f"wrote {out}: {counts} (test: {splits.manifest['test_mode']})")
    return 0

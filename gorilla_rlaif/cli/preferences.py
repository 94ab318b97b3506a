"""Build a versioned preference dataset (preferences, binary, feedback configs) from feedback rows.

gorilla-rlaif preferences runs/feedback.jsonl --output-dir runs/dataset --version 0.1.0
gorilla-rlaif preferences F.jsonl --output-dir DIR --version 0.2.0 --pairing all-pairs --margin 2
gorilla-rlaif preferences F.jsonl --output-dir DIR --version 0.1.0 --push-to-hub me/gorilla-feedback

The directory is a Hub-layout dataset: `datasets.load_dataset(DIR, "preferences")` loads it.
--push-to-hub uploads it (token from HF_TOKEN or `huggingface-cli login`) and tags the commit
vX.Y.Z, so users `load_dataset(REPO, "preferences", revision="v0.1.0")`.
"""

from __future__ import annotations

import argparse

from gorilla_rlaif.cli.command import Command, flag, positional
from gorilla_rlaif.publish import PublishConfig

HELP = "turn feedback into a versioned DatasetDict (preferences / binary / feedback); push to the Hub"


def run(config: PublishConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.publish import build_dataset, push_dataset

    record = build_dataset(config)
    counts = ", ".join(f"{name} {c['train']}/{c['test']}" for name, c in record["counts"].items())
    print(f"wrote {config.output_dir} v{config.version}: {counts} (train/test rows)")
    if config.push_to_hub:
        pushed = push_dataset(config.output_dir, config.push_to_hub, config.version, private=config.private)
        print(f"pushed {pushed['repo_id']} {pushed['tag']} (commit {pushed['commit'][:12]}): {pushed['url']}")
    return 0


COMMAND = Command(
    HELP,
    PublishConfig,
    run,
    flags=[
        positional("feedback", "FEEDBACK", nargs="+"),
        flag("output_dir", "--output-dir", "-o"),
        *(flag(key) for key in ("version", "pairing", "margin", "threshold", "test_fraction", "seed")),
        flag("name"),
        flag("license"),
        flag("overwrite", value=True),
        flag("push_to_hub", metavar="REPO"),
        flag("private", value=True),
    ],
    outputs={"output_dir": "dir"},
)

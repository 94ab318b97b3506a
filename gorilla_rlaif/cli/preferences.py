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

HELP = "turn feedback into a versioned DatasetDict (preferences / binary / feedback); push to the Hub"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("feedback", nargs="+", help="feedback JSONL file(s) from `gorilla-rlaif label`")
    parser.add_argument("--output-dir", "-o", required=True)
    parser.add_argument("--version", required=True, help="release version X.Y.Z (tagged vX.Y.Z on the Hub)")
    parser.add_argument("--pairing", choices=("best-vs-worst", "all-pairs"), default="best-vs-worst")
    parser.add_argument(
        "--margin", type=float, default=1, help="minimum score gap of a pair (ties never pair)"
    )
    parser.add_argument(
        "--rank-by",
        choices=("score", "weighted_score"),
        default="score",
        help="pair by the count of desirable answers, or by the judge's sum of P(desirable)",
    )
    parser.add_argument("--threshold", type=int, default=7, help="binary label = score >= threshold")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="share of prompts in test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="gorilla-rlaif-feedback", help="dataset name in the card")
    parser.add_argument("--license", default="apache-2.0")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    hub = parser.add_argument_group("Hugging Face Hub")
    hub.add_argument("--push-to-hub", metavar="REPO", help="dataset repo id, e.g. me/gorilla-feedback")
    hub.add_argument("--private", action="store_true", help="create the repo as private")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from gorilla_rlaif.errors import ConfigError
    from gorilla_rlaif.publish import PublishConfig, build_dataset, push_dataset

    try:
        config = PublishConfig(
            feedback=args.feedback,
            output_dir=args.output_dir,
            version=args.version,
            pairing=args.pairing,
            margin=args.margin,
            rank_by=args.rank_by,
            threshold=args.threshold,
            test_fraction=args.test_fraction,
            seed=args.seed,
            name=args.name,
            license=args.license,
            repo_id=args.push_to_hub,
            overwrite=args.overwrite,
        )
    except ValidationError as exc:
        raise ConfigError(
            "; ".join(f"--{e['loc'][0]}: {e['msg']}".replace("_", "-") for e in exc.errors())
        ) from None
    record = build_dataset(config)
    counts = ", ".join(f"{name} {c['train']}/{c['test']}" for name, c in record["counts"].items())
    print(f"wrote {args.output_dir} v{config.version}: {counts} (train/test rows)")
    if args.push_to_hub:
        pushed = push_dataset(args.output_dir, args.push_to_hub, config.version, private=args.private)
        print(f"pushed {pushed['repo_id']} {pushed['tag']} (commit {pushed['commit'][:12]}): {pushed['url']}")
    return 0

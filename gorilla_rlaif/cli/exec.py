"""Run code snippets in a sandbox and classify each outcome (the executability metric).

Input: JSON Lines rows {"id": ..., "code": ...}. Output: one row per snippet with a status in
{ok, syntax_error, import_error, attribute_error, name_error, type_error, hub_error, timeout,
oom, runtime_error, sandbox_error}, exit code, duration, error type/message and truncated
stdout/stderr, appended as each snippet finishes. Re-running the same command resumes: only
snippets without a row run. A summary (executability = ok / total, the rate without hub errors,
a count per status) is printed and written next to the output as SUMMARY.json.

Snippets run against the APIBench world (gorilla-bench world --help): the libraries APIBench code
imports, at the versions of its era, and offline stand-ins for every API of the three hubs, so a
real API loads and a made-up one fails as a hub_error. By default each worker is a fork server that
imports the snippet's framework once (torch + transformers, or TensorFlow + tensorflow_hub) and
forks a fresh, equally isolated child per snippet; --no-preload starts a new interpreter per
snippet instead.

Examples:
  gorilla-bench exec snippets.jsonl --backend docker --output results.jsonl
  gorilla-bench exec snippets.jsonl --backend local --timeout 10 --memory-mb 1024 -o results.jsonl
  gorilla-bench exec snippets.jsonl -o results.jsonl --network --model-cache runs/downloads   # real hubs
  gorilla-bench exec snippets.jsonl -o results.jsonl --no-preload
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run code snippets in a sandbox (docker or local) and classify every outcome"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("snippets", type=Path, help='JSONL with {"id": ..., "code": ...} rows')
    parser.add_argument("--output", "-o", type=Path, required=True, help="results JSONL (resumed if present)")
    parser.add_argument("--backend", choices=("docker", "local"), default="docker")
    parser.add_argument("--workers", type=int, help="parallel sandboxes (default: number of cores)")
    parser.add_argument("--timeout", type=float, default=30.0, help="wall-time limit per snippet, s")
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument("--max-procs", type=int, default=64)
    parser.add_argument("--max-file-mb", type=int, default=64)
    parser.add_argument("--max-output-kb", type=int, default=64)
    parser.add_argument("--network", action="store_true", help="allow network (hubs online, cache writable)")
    parser.add_argument(
        "--libraries",
        default="apibench",
        help="libraries snippets import: apibench (the pinned execution environment, built on first use), "
        "project (this virtualenv) or a site-packages directory",
    )
    parser.add_argument(
        "--world",
        choices=("apibench", "none"),
        default="apibench",
        help="apibench: offline stand-ins for every API of the three hubs, sample inputs, offline web "
        "(with --network: the real hubs); none: nothing but --model-cache",
    )
    parser.add_argument(
        "--model-cache",
        type=Path,
        help="a model cache mounted at /cache instead of the stand-ins (huggingface/, torch/, tfhub/); "
        "with --network, the shared download cache",
    )
    parser.add_argument("--image", help="docker image (default: the tag scripts/setup-sandbox.sh builds)")
    parser.add_argument("--fresh-containers", action="store_true", help="docker: one container per snippet")
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="one-shot mode: a fresh interpreter per snippet (default: each worker imports "
        "--preload modules once and forks a child per snippet)",
    )
    parser.add_argument(
        "--preload",
        metavar="MODULES",
        help="comma-separated modules the workers import once (default: by framework, see gorilla_rlaif.harness.world.PRELOAD_PROFILES)",
    )
    parser.add_argument("--no-mount-venv", action="store_true", help="use the image's own libraries")
    parser.add_argument("--local-isolation", choices=("auto", "bwrap", "process"), default="auto")


def run(args: argparse.Namespace) -> int:
    import logging

    from gorilla_rlaif.harness import SandboxConfig, run_snippets, summarize
    from gorilla_rlaif.io import read_jsonl, sha256_file, write_json
    from gorilla_rlaif.provenance import provenance

    snippets = []
    for line, row in read_jsonl(args.snippets):
        if not isinstance(row.get("code"), str) or "id" not in row:
            from gorilla_rlaif.errors import DataError

            raise DataError('expected {"id": ..., "code": "<python source>"}', path=args.snippets, line=line)
        snippets.append({"id": str(row["id"]), "code": row["code"]})
    cache = args.model_cache
    fields = {
        "libraries": args.libraries,
        "world": args.world,
        "backend": args.backend,
        "timeout_s": args.timeout,
        "memory_mb": args.memory_mb,
        "max_procs": args.max_procs,
        "max_file_mb": args.max_file_mb,
        "max_output_kb": args.max_output_kb,
        "network": args.network,
        "model_cache": cache,
        "container_reuse": not args.fresh_containers,
        "mount_site_packages": not args.no_mount_venv,
        "local_isolation": args.local_isolation,
    }
    if args.workers:
        fields["workers"] = args.workers
    if args.image:
        fields["image"] = args.image
    fields["preload"] = not args.no_preload
    if args.preload is not None:
        fields["preload_modules"] = [m.strip() for m in args.preload.split(",") if m.strip()]
    config = SandboxConfig(**fields)
    results = run_snippets(snippets, config, output=args.output, progress=True)
    summary = summarize(results)
    summary_path = args.output.with_name(args.output.stem + ".SUMMARY.json")
    write_json(
        summary_path,
        {
            **summary,
            "provenance": provenance(config, inputs={str(args.snippets): sha256_file(args.snippets)}),
        },
    )
    log = logging.getLogger(__name__)
    log.info("summary written to %s", summary_path)
    print(
        f"executability {summary['executability']:.1%} ({summary['counts']['ok']}/{summary['total']}); "
        f"without hub errors {summary['executability_excluding_hub_errors']:.1%}"
    )
    for status, count in summary["counts"].items():
        if count:
            print(f"  {status:16s} {count}")
    return 0

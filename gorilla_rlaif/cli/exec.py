"""Run code snippets in a sandbox and classify each outcome (the executability metric).

Input: JSON Lines rows {"id": ..., "code": ...}. Output: one row per snippet with a status in
{ok, syntax_error, import_error, attribute_error, name_error, type_error, hub_error, timeout,
oom, runtime_error, sandbox_error}, exit code, duration, error type/message and truncated
stdout/stderr, appended as each snippet finishes. Re-running the same command resumes: only
snippets without a row run. A summary (executability = ok / total, the rate without hub errors,
a count per status) is printed and written next to the output as SUMMARY.json.

By default each worker is a fork server that imports torch/transformers once and forks a fresh,
equally isolated child per snippet (milliseconds instead of ~5 s of imports per snippet);
--no-preload starts a new interpreter per snippet instead.

Examples:
  gorilla-bench exec snippets.jsonl --backend docker --output results.jsonl
  gorilla-bench exec snippets.jsonl --backend local --timeout 10 --memory-mb 1024 -o results.jsonl
  gorilla-bench exec snippets.jsonl -o results.jsonl --model-cache-for-snippets runs/model-cache
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
    parser.add_argument("--model-cache", type=Path, help="cache dir mounted at /cache (HF_HOME, TORCH_HOME)")
    parser.add_argument(
        "--model-cache-for-snippets",
        type=Path,
        metavar="DIR",
        help="build tiny random models for every model id the snippets load into DIR, and use it",
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
        help="comma-separated modules the workers import once (default: torch,transformers,transformers.pipelines)",
    )
    parser.add_argument("--no-mount-venv", action="store_true", help="use the image's own libraries")
    parser.add_argument("--local-isolation", choices=("auto", "bwrap", "process"), default="auto")


def run(args: argparse.Namespace) -> int:
    import logging

    from gorilla_rlaif.harness import SandboxConfig, run_snippets, summarize
    from gorilla_rlaif.harness.model_cache import build_model_cache_for
    from gorilla_rlaif.io import read_jsonl, sha256_file, write_json
    from gorilla_rlaif.provenance import provenance

    snippets = []
    for line, row in read_jsonl(args.snippets):
        if not isinstance(row.get("code"), str) or "id" not in row:
            from gorilla_rlaif.errors import DataError

            raise DataError('expected {"id": ..., "code": "<python source>"}', path=args.snippets, line=line)
        snippets.append({"id": str(row["id"]), "code": row["code"]})
    cache = args.model_cache
    if args.model_cache_for_snippets:
        cache = build_model_cache_for([s["code"] for s in snippets], args.model_cache_for_snippets)
    fields = {
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

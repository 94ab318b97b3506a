"""TF Hub stand-in world: how many of APIBench's TensorFlow Hub gold answers run against it, and how
many fail as `hub_error` when their handle is replaced by a made-up one.

    .venv/bin/python benchmarks/bench_tfhub_world.py --out runs/tfhub-world [--backend local|docker]
        [--made-up] [--world DIR] [--workers 2] [--limit N]

Builds the world (plan + builder, timed; reused from `--world` or `OUT/world` when it is there),
runs the 688 eval gold answers (records without a code section count as failures, status
`no_code`) in the real sandbox with the execution environment mounted and TFHUB_CACHE_DIR at the
world, and writes `OUT/<run>/results.jsonl`, `summary.json` and `failures.md` (question id, status,
error) where `<run>` is `gold-<backend>` or `made-up-<backend>`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path


def ensure_world(directory: Path) -> dict:
    from gorilla_rlaif.harness.world import tfhub

    report_file = directory / "report.json"
    if report_file.exists():
        return json.loads(report_file.read_text())
    started = time.monotonic()
    report = tfhub.build(directory)
    report["wall_s"] = round(time.monotonic() - started, 1)
    report_file.write_text(json.dumps(report, indent=1))
    return report


def snippets(made_up: bool) -> tuple[list[dict], list[dict]]:
    """(snippets to run, records without code). With `made_up`, every TF Hub handle of a snippet
    is replaced by a made-up one."""
    from gorilla_rlaif.data import load_records
    from gorilla_rlaif.harness.world import tfhub

    runnable, missing = [], []
    for record in load_records("tensorflowhub", "eval").records:
        if record.output is None:
            missing.append({"id": record.id, "reason": record.parse_error})
            continue
        code = record.output.code
        if made_up:
            for usage in tfhub.usages_in_code(code):
                code = code.replace(usage["handle"], tfhub.made_up(usage["handle"]))
        runnable.append({"id": record.id, "code": code})
    return runnable, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--world", type=Path, help="a built world directory (default OUT/world, built if missing)"
    )
    parser.add_argument("--backend", choices=["local", "docker"], default="local")
    parser.add_argument("--made-up", action="store_true", help="replace every handle by a made-up one")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()

    from gorilla_rlaif.harness import run_snippets
    from gorilla_rlaif.harness.world import tfhub

    world = args.world or args.out / "world"
    report = ensure_world(world)
    print(
        f"world: {report['built']} handles, {len(report['templates'])} SavedModels, "
        f"build {report.get('wall_s', report['build_s'])} s, {report['disk_bytes'] / 1e6:.1f} MB on disk"
    )
    config = tfhub.sandbox_config(world, backend=args.backend, workers=args.workers, timeout_s=args.timeout)
    items, missing = snippets(args.made_up)
    if args.limit:
        items = items[: args.limit]
    run_dir = args.out / f"{'made-up' if args.made_up else 'gold'}-{args.backend}"
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = run_snippets(items, config, output=run_dir / "results.jsonl")
    wall = time.monotonic() - started
    counts = Counter(r.status.value for r in results)
    counts["no_code"] = len(missing)
    total = len(results) + len(missing)
    summary = {
        "backend": args.backend,
        "made_up": args.made_up,
        "total": total,
        "statuses": dict(counts.most_common()),
        "ok_rate": counts["ok"] / total,
        "hub_error_rate": counts["hub_error"] / total,
        "wall_s": round(wall, 1),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    lines = ["| question | status | error |", "|---:|---|---|"]
    for r in sorted(results, key=lambda r: int(r.id.rsplit("/", 1)[1])):
        if r.status.value != ("hub_error" if args.made_up else "ok"):
            message = (r.error_message or "").strip().splitlines()
            first = (message[0] if message else "")[:160].replace("|", "\\|")
            lines.append(f"| {r.id.rsplit('/', 1)[1]} | {r.status.value} | {r.error_type or ''}: {first} |")
    for m in missing:
        lines.append(f"| {m['id'].rsplit('/', 1)[1]} | no_code | {m['reason']} |")
    (run_dir / "failures.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

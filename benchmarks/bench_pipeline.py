"""Wall time per stage of `gorilla-rlaif pipeline` (the `make demo` budget: < 20 min on 2 cores).

    .venv/bin/python benchmarks/bench_pipeline.py --output-dir /tmp/bench-demo [key=value ...]
    .venv/bin/python benchmarks/bench_pipeline.py --manifest demo-output/pipeline.json   # an existing run

Runs the tiny preset from scratch (the directory must not exist) and prints each stage's time,
the total, the load average before and after (other jobs on a shared machine slow every stage),
and the headline numbers of the eval stages.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def print_manifest(manifest: dict, wall: float | None = None) -> None:
    print(f"{'stage':<16} {'seconds':>9}")
    total = 0.0
    for name in manifest["pipeline"]["stage_order"]:
        record = manifest["stages"].get(name, {})
        seconds = record.get("duration_s") or 0.0
        total += seconds
        print(f"{name:<16} {seconds:>9.1f}")
    print(f"{'sum':<16} {total:>9.1f}  ({total / 60:.1f} min)")
    if wall is not None:
        print(f"{'wall':<16} {wall:>9.1f}  ({wall / 60:.1f} min, incl. imports and hashing)")
    for name in manifest["pipeline"]["stage_order"]:
        if not name.startswith("eval-"):
            continue
        result = (manifest["stages"].get(name) or {}).get("result") or {}
        for hub, block in result.items():
            if isinstance(block, dict) and "ast_accuracy" in block:
                keys = ("ast_accuracy", "hallucination_rate", "rouge_l", "codebleu", "executability")
                cells = "  ".join(
                    f"{k}={block.get(k) if block.get(k) is None else round(block[k], 3)}" for k in keys
                )
                print(f"{name} {hub} n={block.get('n')}: {cells}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output-dir")
    parser.add_argument("--manifest", help="print the stage times of an existing run instead")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    if args.manifest:
        print_manifest(json.loads(Path(args.manifest).read_text()))
        return 0
    if not args.output_dir:
        parser.error("--output-dir or --manifest is required")
    if Path(args.output_dir).exists():
        parser.error(f"{args.output_dir} exists: the benchmark times a run from scratch")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from gorilla_rlaif.pipeline import load_pipeline_config, run_pipeline

    config = load_pipeline_config(args.preset, overrides=args.overrides)
    load_before = os.getloadavg()
    started = time.perf_counter()
    manifest = run_pipeline(config, args.output_dir, progress=False)
    wall = time.perf_counter() - started
    print(f"preset {args.preset}, overrides {args.overrides or 'none'}, {os.cpu_count()} cores")
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (1 min)")
    print_manifest(manifest, wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())

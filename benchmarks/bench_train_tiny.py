"""Time the tiny presets on this machine and print what the trained model writes.

    python benchmarks/bench_train_tiny.py                  # the full tiny SFT preset (~5 min on 2 idle cores)
    python benchmarks/bench_train_tiny.py --steps 40 --precision fp32 bf16   # speed of fp32 vs bf16 autocast

Prints, per run: wall time, optimizer steps/s, final train loss, and the held-out generation report
(well-formed answers, code that parses, exact api_call; plus AST accuracy when the metrics module
is installed). Numbers depend on machine load: check `uptime` and say so when you report them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=None, help="override max_steps (default: the preset's)")
    parser.add_argument("--precision", nargs="+", default=["bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--eval-samples", type=int, default=186, help="TorchHub test prompts to generate for")
    parser.add_argument("--output-dir", help="keep the runs here (default: a temp dir)")
    args = parser.parse_args()

    from gorilla_rlaif import trainers
    from gorilla_rlaif.train import PROVENANCE_FILE

    root = Path(args.output_dir or tempfile.mkdtemp(prefix="bench-train-"))
    print(f"load average before: {os.getloadavg()}")
    for precision in args.precision:
        overrides = [
            f"output_dir={root / f'sft-{precision}'}",
            f"precision={precision}",
            f"data.eval_samples={args.eval_samples}",
            "overwrite=true",
        ]
        if args.steps:
            overrides.append(f"max_steps={args.steps}")
        config = trainers.load_config("sft", None, overrides, preset="tiny")
        start = time.time()
        out = trainers.train("sft", config)
        wall = time.time() - start
        record = json.loads((out / PROVENANCE_FILE).read_text())
        runtime = next(r for r in record["log_history"] if "train_runtime" in r)
        report = record["metrics"].get("test_generation", {})
        print(
            json.dumps(
                {
                    "precision": precision,
                    "steps": config.max_steps,
                    "wall_s": round(wall, 1),
                    "train_runtime_s": round(runtime["train_runtime"], 1),
                    "steps_per_s": round(config.max_steps / runtime["train_runtime"], 3),
                    "last_logged_loss": record["metrics"]["train"]["loss"]["last"],
                    "train_loss": runtime["train_loss"],
                    "test_loss": record["metrics"].get("test_loss"),
                    **{k: v for k, v in report.items() if k != "samples"},
                },
                indent=1,
            )
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Throughput of the executability harness: snippets/s per backend vs. unsandboxed `python -c`.

    .venv/bin/python benchmarks/bench_harness.py [--n 60] [--workers 2] [--heavy]

The floor runs each snippet as a plain `python -c CODE` subprocess (no isolation, no limits) with
the same number of parallel workers. `--heavy` makes every snippet import torch + transformers,
as APIBench code does (then import time dominates every mode: see issue 9, preloaded workers).
Prints a table with snippets/s and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from gorilla_rlaif.harness import SandboxConfig, Status, run_snippets

LIGHT = [
    "print(sum(range(1000)))",
    "import json\nprint(json.dumps({'a': [1, 2, 3]}))",
    "import math\nprint(math.sqrt(2))",
    "x = [i * i for i in range(10000)]\nprint(len(x))",
    "import collections\nprint(collections.Counter('abracadabra').most_common(1))",
    "raise ValueError('boom')",
]
HEAVY = "import torch, transformers\nprint(torch.ones(2).sum().item())"


def floor(codes: list[str], workers: int) -> float:
    def one(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, check=False)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, codes))
    return len(codes) / (time.perf_counter() - start)


def sandboxed(codes: list[str], config: SandboxConfig) -> float:
    snippets = [{"id": str(i), "code": c} for i, c in enumerate(codes)]
    start = time.perf_counter()
    results = run_snippets(snippets, config, progress=False)
    rate = len(codes) / (time.perf_counter() - start)
    bad = [r for r in results if r.status in (Status.sandbox_error, Status.timeout)]
    assert not bad, bad[:2]
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--heavy", action="store_true")
    args = parser.parse_args()
    codes = [HEAVY] * args.n if args.heavy else [LIGHT[i % len(LIGHT)] for i in range(args.n)]
    base = {"workers": args.workers, "timeout_s": 120}
    modes = {
        "local (bubblewrap)": SandboxConfig(backend="local", **base),
        "docker, container per snippet": SandboxConfig(backend="docker", container_reuse=False, **base),
        "docker, warm containers": SandboxConfig(backend="docker", container_reuse=True, **base),
    }
    load = os.getloadavg()[0]
    print(f"{args.n} {'heavy' if args.heavy else 'light'} snippets, {args.workers} workers, load {load:.1f}")
    ref = floor(codes, args.workers)
    print(f"{'mode':32s} {'snippets/s':>10s} {'vs floor':>9s}")
    print(f"{'python -c (unsandboxed floor)':32s} {ref:10.2f} {1.0:9.2f}")
    for name, config in modes.items():
        rate = sandboxed(codes, config)
        print(f"{name:32s} {rate:10.2f} {rate / ref:9.2f}")


if __name__ == "__main__":
    main()

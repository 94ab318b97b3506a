"""Throughput of the executability harness: snippets/s per backend vs. unsandboxed floors.

    .venv/bin/python benchmarks/bench_harness.py [--n 60] [--workers 2]            # light snippets
    .venv/bin/python benchmarks/bench_harness.py --models [--n 20] [--backends local docker]

Light: tiny stdlib snippets, which measure the sandbox's own cost; the floor runs each as a
plain `python -c CODE` subprocess (no isolation, no limits) with the same parallelism.

`--models`: per preload profile (torch + transformers; TensorFlow + tensorflow_hub), one warm
worker per backend against the APIBench world: the worker's start (its imports) and anonymous
memory, and for each of --n typical model snippets its wall time beyond its own work (the snippet
times itself): the harness's per-snippet overhead.
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


def python_c_floor(codes: list[str], workers: int, env: dict | None = None) -> float:
    def one(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300, check=False, env=env)

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, codes))
    return len(codes) / (time.perf_counter() - start)


# One floor worker: a fresh interpreter (forking from this benchmark process, which has run
# thread pools and the docker client, deadlocked children here) that imports the modules, says
# "ready", waits for "go" on stdin, then forks a bare child per snippet: no limits, no capture.
FLOOR_WORKER = """
import importlib, json, os, sys
modules, codes = json.loads(sys.stdin.readline())
for name in modules:
    importlib.import_module(name)
devnull = os.open(os.devnull, os.O_WRONLY)
print("ready", flush=True)
sys.stdin.readline()
failed = 0
for code in codes:
    pid = os.fork()
    if pid == 0:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            exec(compile(code, "snippet.py", "exec"), {"__name__": "__main__"})
            os._exit(0)
        except BaseException:
            os._exit(1)
    failed += os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0
print(failed, flush=True)
"""


def sandboxed(codes: list[str], config: SandboxConfig, expect_ok: bool = False) -> float:
    snippets = [{"id": str(i), "code": c} for i, c in enumerate(codes)]
    start = time.perf_counter()
    results = run_snippets(snippets, config, progress=False)
    rate = len(codes) / (time.perf_counter() - start)
    bad = [r for r in results if r.status in (Status.sandbox_error, Status.timeout)]
    if expect_ok:
        bad = [r for r in results if r.status is not Status.ok]
    assert not bad, bad[:2]
    return rate


def light(args) -> None:
    codes = [HEAVY] * args.n if args.heavy else [LIGHT[i % len(LIGHT)] for i in range(args.n)]
    base = {"workers": args.workers, "timeout_s": 120, "preload": False}
    modes = {
        "local (bubblewrap)": SandboxConfig(backend="local", **base),
        "docker, container per snippet": SandboxConfig(backend="docker", container_reuse=False, **base),
        "docker, warm containers": SandboxConfig(backend="docker", container_reuse=True, **base),
    }
    print(f"{args.n} {'heavy' if args.heavy else 'light'} snippets, {args.workers} workers, one-shot")
    ref = python_c_floor(codes, args.workers)
    print(f"{'mode':32s} {'snippets/s':>10s} {'vs floor':>9s}")
    print(f"{'python -c (unsandboxed floor)':32s} {ref:10.2f} {1.0:9.2f}")
    for name, config in modes.items():
        rate = sandboxed(codes, config)
        print(f"{name:32s} {rate:10.2f} {rate / ref:9.2f}")


PROFILE_SNIPPETS = {
    # what a typical answer of the hub does with its preloaded framework; each prints its own work
    "torch": "import time\nt = time.perf_counter()\n"
    "from transformers import pipeline\n"
    "unmasker = pipeline('fill-mask', model='bert-base-uncased')\n"
    "unmasker('Paris is the [MASK] of France.')\n"
    "print('own', time.perf_counter() - t)",
    "tensorflow": "import time\nt = time.perf_counter()\n"
    "import tensorflow as tf\nimport tensorflow_hub as hub\n"
    "model = tf.keras.Sequential([hub.KerasLayer('https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/4')])\n"
    "model(tf.zeros([1, 224, 224, 3]))\n"
    "print('own', time.perf_counter() - t)",
}


def models(args) -> None:
    """Per preload profile, on one warm worker of each backend (the APIBench world): the worker's
    start and memory, and each snippet's wall time beyond its own work (the harness's overhead:
    request, fork, scratch set-up and wipe, report)."""
    from gorilla_rlaif.harness.backends import load_backend
    from gorilla_rlaif.harness.classify import classify
    from gorilla_rlaif.harness.world import PRELOAD_PROFILES

    print(f"load before: {os.getloadavg()[0]:.1f}", flush=True)
    print(
        "| backend | profile | worker start (s) | worker memory (MB, anonymous) | snippets | own work (s, median) | wall (s, median) | overhead (s, median) |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for backend_name in args.backends:
        for profile, code in PROFILE_SNIPPETS.items():
            config = SandboxConfig(
                backend=backend_name,
                workers=1,
                timeout_s=300,
                preload_modules=list(PRELOAD_PROFILES[profile]),
            )
            backend = load_backend(config)
            backend.check()
            worker = backend.open_worker(0)
            try:
                start = time.monotonic()
                worker.execute(backend.make_request("pass"))  # starts the server (preload)
                started = time.monotonic() - start
                walls, owns = [], []
                for _ in range(args.n):
                    t = time.monotonic()
                    raw = worker.execute(backend.make_request(code))
                    walls.append(time.monotonic() - t)
                    if classify(raw)["status"] != "ok":
                        raise SystemExit(
                            f"{profile} snippet failed: {classify(raw)} {raw.get('stderr', '')[-500:]}"
                        )
                    owns.append(float(raw["stdout"].split()[-1]))
                over = sorted(w - o for w, o in zip(walls, owns, strict=True))
                median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
                print(
                    f"| {backend_name} | {profile} | {started:.1f} | {worker.info.get('rss_mb')} | {args.n} | "
                    f"{median(owns):.3f} | {median(walls):.3f} | {median(over):.3f} |",
                    flush=True,
                )
            finally:
                worker.close()
                backend.close()
    print(f"load after: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="snippets (light: 60, --models: 20 per profile)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--heavy", action="store_true", help="light table with torch-importing snippets")
    parser.add_argument("--models", action="store_true", help="per preload profile: start, memory, overhead")
    parser.add_argument("--backends", nargs="+", default=["local", "docker"], help="--models: backends")
    args = parser.parse_args()
    if args.models:
        args.n = args.n or 20
        models(args)
    else:
        args.n = args.n or 60
        light(args)


if __name__ == "__main__":
    main()

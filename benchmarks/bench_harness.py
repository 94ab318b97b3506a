"""Throughput of the executability harness: snippets/s per backend vs. unsandboxed floors.

    .venv/bin/python benchmarks/bench_harness.py [--n 60] [--workers 2]            # light snippets
    .venv/bin/python benchmarks/bench_harness.py --models [--n 120] [--n-one-shot 10] [--imports-only]

Light: tiny stdlib snippets, which measure the sandbox's own cost; the floor runs each as a
plain `python -c CODE` subprocess (no isolation, no limits) with the same parallelism.

`--models`: APIBench-style snippets that import torch/transformers and load a tiny model
by id from an offline model cache built here (what `--model-cache-for-snippets` builds). Modes:
one-shot (a fresh interpreter per snippet: `python -c` floor, local/bubblewrap, docker warm) and
preloaded (fork-server workers: local/bubblewrap, docker warm), against the unsandboxed preloaded
floor: this process imports the same modules once and forks a bare child per snippet (no
limits, no capture, no cleanup). Per-snippet overhead = worker-seconds per snippet beyond that
floor, i.e. workers/rate - workers/floor_rate. Preloaded rows include each worker's one-time
preload (reported separately as "start"), amortized over --n snippets.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
MODELS = [
    "from transformers import AutoTokenizer, AutoModelForCausalLM\n"
    "tok = AutoTokenizer.from_pretrained('gpt2')\n"
    "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
    "out = model.generate(**tok('def f():', return_tensors='pt'), max_new_tokens=3)\n"
    "print(out.shape[0])",
    "from transformers import pipeline\n"
    "unmasker = pipeline('fill-mask', model='bert-base-uncased')\n"
    "print(len(unmasker('Paris is the [MASK] of France.')))",
    "import torch\n"
    "from transformers import AutoModel, AutoTokenizer\n"
    "tok = AutoTokenizer.from_pretrained('bert-base-uncased')\n"
    "model = AutoModel.from_pretrained('bert-base-uncased')\n"
    "with torch.no_grad():\n"
    "    print(model(**tok('hello world', return_tensors='pt')).last_hidden_state.shape[0])",
]


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


def preloaded_floor(codes: list[str], workers: int, modules: list[str], env: dict) -> float:
    """The cost of the work itself with nothing of the sandbox around it: `workers` interpreters
    import the modules once (not timed), then each forks a bare child per snippet of its share."""
    import json

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FLOOR_WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(workers)
    ]
    for w, proc in enumerate(procs):
        proc.stdin.write(json.dumps([modules, codes[w::workers]]) + "\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    failed = sum(int(proc.stdout.readline()) for proc in procs)
    rate = len(codes) / (time.perf_counter() - start)
    for proc in procs:
        proc.wait()
    assert not failed, f"{failed} snippets failed in the floor"
    return rate


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


def models(args) -> None:
    from gorilla_rlaif.harness.config import DEFAULT_PRELOAD, SandboxConfig, sandbox_env
    from gorilla_rlaif.harness.model_cache import build_model_cache_for

    cache = build_model_cache_for(MODELS, Path(tempfile.mkdtemp(prefix="bench-models-")))
    # --imports-only: the snippet does nothing but import (its own work ~0), so the ratio to
    # one-shot is bounded only by the import cost; with models, by import / (import + model work).
    codes = [HEAVY] if args.imports_only else MODELS
    many = [codes[i % len(codes)] for i in range(args.n)]
    few = [codes[i % len(codes)] for i in range(args.n_one_shot)]
    base = {"workers": args.workers, "timeout_s": 300, "model_cache": cache}
    env = sandbox_env(SandboxConfig(**base, backend="local"), "bench")
    env.update(HF_HOME=str(cache / "huggingface"), TORCH_HOME=str(cache / "torch"))
    env = {**env, "PATH": os.environ.get("PATH", env["PATH"])}
    # (name, snippets, snippets/s over the whole run, start-up seconds, steady snippets/s)
    rows: list[tuple[str, int, float, float, float]] = []

    def measure(name: str, n: int, fn, start_fn=None) -> None:
        rate = fn()
        start, steady = 0.0, rate
        if start_fn is not None:
            # A batch of one snippet per worker costs the workers' start (preload) plus one
            # snippet; the run's remaining time is its steady state.
            start = args.workers / start_fn()
            steady = n / max(n / rate - start, 1e-9)
        rows.append((name, n, rate, start, steady))
        print(f"  {name}: {rate:.3f} snippets/s (start {start:.1f} s, steady {steady:.3f}/s)", flush=True)

    print(f"load before: {os.getloadavg()[0]:.1f}", flush=True)
    measure("one-shot, `python -c` (unsandboxed)", len(few), lambda: python_c_floor(few, args.workers, env))
    for backend, label in (("local", "local (bubblewrap)"), ("docker", "docker (warm containers)")):
        measure(
            f"one-shot, {label}",
            len(few),
            lambda b=backend: sandboxed(few, SandboxConfig(backend=b, preload=False, **base), True),
        )
        config = SandboxConfig(backend=backend, preload=True, **base)
        measure(
            f"preloaded, {label}",
            len(many),
            lambda c=config: sandboxed(many, c, True),
            lambda c=config: sandboxed(many[: args.workers], c, True),
        )
    # The floor's import is not timed at all: its rate is already the steady state.
    floor_rate = preloaded_floor(many, args.workers, list(DEFAULT_PRELOAD), env)
    rows.append(("preloaded, unsandboxed fork floor", len(many), floor_rate, 0.0, floor_rate))
    print(f"load after: {os.getloadavg()[0]:.1f}")
    one_shot_local = next(r[4] for r in rows if r[0] == "one-shot, local (bubblewrap)")
    kind = "import-only snippets" if args.imports_only else f"{len(MODELS)} model-loading snippets (cycled)"
    print(f"\n{kind}, {args.workers} workers; steady = after the workers' one-time start")
    print(
        "| mode | snippets | snippets/s (whole run) | worker start (s) | steady snippets/s "
        "| steady s/snippet/worker | overhead vs fork floor (s) | vs floor | vs one-shot local |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, rate, start, steady in rows:
        per = args.workers / steady
        over = per - args.workers / floor_rate
        print(
            f"| {name} | {n} | {rate:.2f} | {start:.1f} | {steady:.2f} | {per:.3f} | {over:+.3f} "
            f"| {steady / floor_rate:.2f} | {steady / one_shot_local:.1f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="snippets (light: 60, --models: 120)")
    parser.add_argument("--n-one-shot", type=int, default=10, help="--models: snippets in one-shot modes")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--heavy", action="store_true", help="light table with torch-importing snippets")
    parser.add_argument("--models", action="store_true", help="one-shot vs preloaded on model snippets")
    parser.add_argument(
        "--imports-only", action="store_true", help="--models with `import torch, transformers` only"
    )
    args = parser.parse_args()
    if args.models:
        args.n = args.n or 120
        models(args)
    else:
        args.n = args.n or 60
        light(args)


if __name__ == "__main__":
    main()

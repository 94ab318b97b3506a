"""Labeling throughput against a loopback OpenAI-compatible server with a fixed latency.

    python benchmarks/bench_label.py [--latency 0.2] [--seconds 5] [--plot bench_label.png]

Measures `gorilla_rlaif.judge.label` end to end (requests, validation, SQLite cache commits,
JSONL appends) in rubric mode (one request per candidate, so labels/s = requests/s) at
concurrency 1, 8 and 64, as a fraction of the ideal concurrency / latency; then the cached
re-run (every answer from the cache, no request sent); then peers on the same server: TRL's
OpenAIPairwiseJudge if it exists, a plain sequential `openai.OpenAI` loop, and a bare
`AsyncOpenAI` + semaphore (no cache, no retries: the ceiling for this client library).
The server runs in its own process so the client's and the server's Python do not share a GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gorilla_rlaif.testing.openai_server", "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().split()
    return proc, f"http://127.0.0.1:{line[1]}/v1"


def candidates(path: Path, n: int, tag: str) -> None:
    from gorilla_rlaif.io import write_jsonl

    write_jsonl(
        path,
        (
            {
                "id": f"{tag}-{i}",
                "prompt_id": f"{tag}-p{i // 4}",
                "prompt": f"###Instruction: Load a pretrained model for task {i // 4} ({tag}).\n###Output:",
                "completion": f" <<<domain>>>: Classification\n<<<api_call>>>: torch.hub.load('repo', 'model_{i}')\n<<<code>>>: import torch",
            }
            for i in range(n)
        ),
    )


def label_run(base_url: str, directory: Path, n: int, concurrency: int, tag: str, cache: Path | None = None):
    from gorilla_rlaif.judge import JudgeConfig, LabelConfig, label
    from gorilla_rlaif.llm import LLMSettings

    cand = directory / f"{tag}.jsonl"
    if not cand.exists():
        candidates(cand, n, tag)
    config = LabelConfig(
        candidates=str(cand),
        output=str(directory / f"{tag}-{time.monotonic_ns()}.feedback.jsonl"),
        cache=str(cache or directory / f"{tag}.sqlite"),
        judge=JudgeConfig(
            judge="openai:gpt-4o-mini",
            mode="rubric",
            openai={"llm": LLMSettings(base_url=base_url, concurrency=concurrency, timeout=30)},
        ),
    )
    start, cpu = time.perf_counter(), time.process_time()
    summary = label(config, progress=False)
    elapsed = time.perf_counter() - start
    assert summary["ok"] == n, summary
    CPU[tag] = (time.process_time() - cpu) / n * 1000
    return n / elapsed, summary["run"]


CPU: dict[str, float] = {}  # client CPU milliseconds per label, by run


def sequential_openai(base_url: str, n: int) -> float:
    import openai

    cpu = time.process_time()
    client = openai.OpenAI(api_key="x", base_url=base_url, max_retries=0)
    start = time.perf_counter()
    for i in range(n):
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"seq {i}"}],
            max_tokens=1,
            temperature=0,
        )
    CPU["seq"] = (time.process_time() - cpu) / n * 1000
    return n / (time.perf_counter() - start)


def bare_async(base_url: str, n: int, concurrency: int) -> float:
    import openai

    async def go() -> float:
        client = openai.AsyncOpenAI(api_key="x", base_url=base_url, max_retries=0)
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with sem:
                await client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": f"bare {i}"}],
                    max_tokens=1,
                    temperature=0,
                )

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(i) for i in range(n)))
        rate = n / (time.perf_counter() - start)
        CPU[f"bare{concurrency}"] = (time.process_time() - cpu) / n * 1000
        await client.close()
        return rate

    return asyncio.run(go())


def trl_peer() -> str:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    for module in ("trl.experimental.judges", "trl"):
        try:
            mod = __import__(module, fromlist=["OpenAIPairwiseJudge"])
            if hasattr(mod, "OpenAIPairwiseJudge"):
                return f"{module}.OpenAIPairwiseJudge found"
        except ImportError:
            continue
    from importlib.metadata import version

    return f"not available: trl {version('trl')} has no OpenAIPairwiseJudge (TRL removed its judges)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=5.0, help="ideal duration of each measurement")
    parser.add_argument("--plot", help="write a bar chart of labels/s to this PNG")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared with other jobs)")
    server, base_url = start_server(args.latency)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            label_run(base_url, directory, 8, 8, "warm-up")  # imports and first connections, not timed
            for concurrency in (1, 8, 64):
                ideal = concurrency / args.latency
                n = max(10, round(ideal * args.seconds))
                rate, run = label_run(base_url, directory, n, concurrency, f"c{concurrency}")
                rows.append(
                    (
                        f"gorilla-rlaif label, concurrency {concurrency}",
                        n,
                        rate,
                        ideal,
                        CPU[f"c{concurrency}"],
                    )
                )
                assert run["requests_sent"] == n, run
            # cached re-run of the largest job: same candidates, same cache, fresh output
            n = max(10, round(64 / args.latency * args.seconds))
            rate, run = label_run(base_url, directory, n, 64, "c64")
            assert run["requests_sent"] == 0 and run["cached"] == n, run
            rows.append(("gorilla-rlaif label, cached re-run", n, rate, None, CPU["c64"]))
            n = max(10, round(1 / args.latency * args.seconds))
            rate = sequential_openai(base_url, n)
            rows.append(("plain sequential openai.OpenAI loop", n, rate, 1 / args.latency, CPU["seq"]))
            for concurrency in (8, 64):
                n = max(10, round(concurrency / args.latency * args.seconds))
                rate = bare_async(base_url, n, concurrency)
                ideal = concurrency / args.latency
                rows.append(
                    (
                        f"bare AsyncOpenAI + semaphore, concurrency {concurrency}",
                        n,
                        rate,
                        ideal,
                        CPU[f"bare{concurrency}"],
                    )
                )
    finally:
        server.stdin.close()
        server.wait(timeout=10)

    print(f"\nlatency {args.latency * 1000:.0f} ms per request (loopback server in its own process)\n")
    print(f"| {'run':<52} | {'labels':>6} | {'labels/s':>9} | {'of ideal':>8} | {'CPU ms/label':>12} |")
    print(f"|{'-' * 54}|{'-' * 8}|{'-' * 11}|{'-' * 10}|{'-' * 14}|")
    for name, n, rate, ideal, cpu in rows:
        share = f"{rate / ideal:.1%}" if ideal else "–"
        print(f"| {name:<52} | {n:>6} | {rate:>9.1f} | {share:>8} | {cpu:>12.2f} |")
    print(f"\nTRL OpenAIPairwiseJudge: {trl_peer()}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.barh([r[0] for r in rows][::-1], [r[2] for r in rows][::-1], color="#4C72B0")
        ax.set_xscale("log")
        ax.set_xlabel("labels per second (log scale)")
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()

"""The sandbox past one process: `gorilla-bench serve` and the Ray backend vs. in-process pools.

    .venv/bin/python benchmarks/bench_remote.py [--part serve ray] [--n 320] [--workers 2]

serve: the same light snippets through (a) an in-process `SandboxPool` (what `run_snippets`
uses), (b) the server's SandboxFusion `POST /run_code`, one snippet per request, (c) the remote
backend (`run_snippets` with backend=remote: /v1/batch, 16 snippets per request). Both sides
have `--workers` warm local (bubblewrap) workers preloaded with `json`. Concurrency 16: 16
client threads each send their share one at a time (in-process: 16 threads submit and wait).
Per-snippet overhead = (wall through the server - wall in process) / n; also one snippet at a time
(concurrency 1), the round-trip latency a caller sees.

ray: a real local Ray cluster (`gorilla_rlaif.testing.ray_cluster`) of 1 node x `--workers`
CPUs, then 2 nodes x 1 CPU (the same 2 cores: the ratio to the in-process floor, not a speed-up),
each timed on a second batch (the first starts the actors and their workers).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

LIGHT = [
    "print(sum(range(1000)))",
    "import json\nprint(json.dumps({'a': [1, 2, 3]}))",
    "import math\nprint(math.sqrt(2))",
    "x = [i * i for i in range(10000)]\nprint(len(x))",
    "raise ValueError('boom')",
]
CONCURRENCY = 16


def snippets(n: int, prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "code": LIGHT[i % len(LIGHT)]} for i in range(n)]


def sandbox(workers: int, **kwargs):
    from gorilla_rlaif.harness import SandboxConfig

    return SandboxConfig(backend="local", workers=workers, preload_modules=["json"], timeout_s=10, **kwargs)


def concurrently(items: list, call, concurrency: int) -> float:
    """Wall seconds for `call(item)` over `items`, `concurrency` threads each taking the next."""
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, items))
    return time.perf_counter() - start


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) of a process, its threads included, its children not."""
    if pid is None:
        return time.process_time()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latencies(items: list, call) -> float:
    times = []
    for item in items:
        start = time.perf_counter()
        call(item)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench_serve(n: int, workers: int, rounds: int) -> list[tuple]:
    """Median over `rounds` interleaved rounds (the machine is shared: load comes and goes)."""
    import httpx2

    from gorilla_rlaif.harness import Snippet, run_snippets
    from gorilla_rlaif.harness.run import SandboxPool
    from gorilla_rlaif.testing.sandbox_server import SandboxServer

    pool = SandboxPool(sandbox(workers))
    args = ["--backend", "local", "--workers", str(workers), "--preload", "json", "--max-pending", "4096"]
    server = SandboxServer(args)
    local = threading.local()
    try:
        for f in [pool.submit(Snippet(id=f"w{i}", code="pass")) for i in range(workers)]:
            f.result()

        def in_process(item):
            return pool.submit(Snippet(**item)).result()

        def run_code(item):
            http = getattr(local, "http", None)
            if http is None:
                http = local.http = httpx2.Client(base_url=server.url, timeout=60)
            response = http.post("/run_code", json={"code": item["code"], "language": "python"})
            assert response.status_code == 200, response.text

        config = sandbox(CONCURRENCY, url=server.url).model_copy(
            update={"backend": "remote", "remote_batch": 16}
        )
        one = config.model_copy(update={"workers": 1})

        def remote_batch(items):
            run_snippets(items, config, progress=False)

        run_code(snippets(1, "warm")[0])
        remote_batch(snippets(16, "warm-b"))
        measured: dict[str, list[tuple[float, float]]] = {"in": [], "run_code": [], "remote": []}
        pid = server.proc.pid
        for r in range(rounds):
            cpu = cpu_s()
            wall = concurrently(snippets(n, f"p{r}-"), in_process, CONCURRENCY)
            cpu = cpu_s() - cpu
            measured["in"].append((wall, latencies(snippets(30, f"q{r}-"), in_process), cpu))
            cpu = cpu_s(pid)
            wall = concurrently(snippets(n, f"r{r}-"), run_code, CONCURRENCY)
            cpu = cpu_s(pid) - cpu
            measured["run_code"].append((wall, latencies(snippets(30, f"s{r}-"), run_code), cpu))
            cpu = cpu_s(pid)
            start = time.perf_counter()
            remote_batch(snippets(n, f"b{r}-"))
            wall = time.perf_counter() - start
            cpu = cpu_s(pid) - cpu
            lat = latencies(
                [[s] for s in snippets(10, f"t{r}-")], lambda batch: run_snippets(batch, one, progress=False)
            )
            measured["remote"].append((wall, lat, cpu))
    finally:
        pool.close()
        server.stop()
    names = {
        "in": "in-process SandboxPool",
        "run_code": "server POST /run_code, 1 snippet/request",
        "remote": "remote backend: run_snippets over /v1/batch, 16/request",
    }
    rows = []
    for key, values in measured.items():
        wall = statistics.median(v[0] for v in values)
        lat = statistics.median(v[1] for v in values)
        cpu = statistics.median(v[2] for v in values) / n * 1000
        rows.append(
            (names[key], n, n / wall, wall / n * 1000, lat, [round(n / v[0], 1) for v in values], cpu)
        )
    return rows


def bench_ray(n: int, workers: int) -> list[tuple]:
    from gorilla_rlaif.harness import run_snippets
    from gorilla_rlaif.testing.ray_cluster import LocalRayCluster

    rows = []
    start = time.perf_counter()
    run_snippets(snippets(workers, "w"), sandbox(workers), progress=False)  # opens and warms, not timed
    start = time.perf_counter()
    run_snippets(snippets(n, "floor"), sandbox(workers), progress=False)
    floor = n / (time.perf_counter() - start)
    rows.append(("in-process (run_snippets, local)", n, floor, 1000 / floor, 1.0))
    for nodes, cpus in ((1, workers), (2, 1)):
        with LocalRayCluster(nodes=nodes, cpus=cpus) as cluster:
            config = sandbox(workers).model_copy(
                update={"backend": "ray", "ray_address": cluster.address, "workers_per_node": cpus}
            )
            start = time.perf_counter()
            run_snippets(snippets(2 * nodes * cpus, "cold"), config, progress=False)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            run_snippets(snippets(n, f"ray{nodes}"), config, progress=False)
            rate = n / (time.perf_counter() - start)
            rows.append(
                (
                    f"ray, {nodes} node(s) x {cpus} CPU (first batch {cold:.1f} s)",
                    n,
                    rate,
                    1000 / rate,
                    rate / floor,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", nargs="+", default=["serve", "ray"], choices=["serve", "ray"])
    parser.add_argument("--n", type=int, default=320)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    if "serve" in args.part:
        rows = bench_serve(args.n, args.workers, args.rounds)
        base, base_lat = rows[0][3], rows[0][4]
        print(
            f"\n| path (concurrency {CONCURRENCY}, {args.workers} workers, median of {args.rounds}) | snippets "
            "| /s (each round) | ms/snippet | overhead ms/snippet | CPU ms/snippet* | latency ms, one at a time "
            "| overhead ms |"
        )
        print("|---|--:|--:|--:|--:|--:|--:|--:|")
        for name, count, rate, per, lat, each, cpu in rows:
            print(
                f"| {name} | {count} | {rate:.1f} ({', '.join(map(str, each))}) | {per:.2f} | {per - base:+.2f} "
                f"| {cpu:.2f} | {lat:.1f} | {lat - base_lat:+.1f} |"
            )
        print(
            "\n*CPU of the process that owns the pool (in-process: this one; else the server's), not its sandboxes"
        )
    if "ray" in args.part:
        rows = bench_ray(args.n, args.workers)
        base = rows[0][3]
        print(
            f"\n| path ({args.workers} sandbox workers in all) | snippets | /s | ms/snippet | vs in-process | Ray's cost ms/snippet |"
        )
        print("|---|--:|--:|--:|--:|--:|")
        for name, count, rate, per, ratio in rows:
            print(f"| {name} | {count} | {rate:.1f} | {per:.2f} | {ratio:.2f} | {per - base:+.2f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

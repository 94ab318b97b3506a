"""A real Ray cluster of several node processes on this machine, for tests and benchmarks.

Each node is a `ray start` of its own (`--head` first, then `--address HEAD`), in the foreground
(`--block`) in a session of its own, so killing a node is killing that session: its raylet, its
workers and the actors on it. Nodes listen on their own loopback addresses (127.0.0.2, .3, ...):
Ray replaces 127.0.0.1 with the machine's outward address, and a test cluster must stay on the
loopback. Needs the `ray` extra.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalRayCluster:
    """`nodes` Ray nodes of `cpus` CPUs each; `address` is the head's GCS (host:port)."""

    def __init__(self, nodes: int = 2, cpus: int = 1):
        self.count, self.cpus = nodes, cpus
        self.head_ip = "127.0.0.2"
        self.port = _free_port(self.head_ip)
        # short: Ray's Unix sockets live under it (a socket path is capped at 107 bytes)
        self.temp = Path(tempfile.mkdtemp(prefix="gr-ray-"))
        self.procs: list[subprocess.Popen] = []
        self.ips: list[str] = []

    @property
    def address(self) -> str:
        return f"{self.head_ip}:{self.port}"

    def _start_node(self, index: int) -> None:
        ip = f"127.0.0.{2 + index}"
        argv = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--node-ip-address", ip]
        # a small object store: snippets and rows are tiny, and the default (30% of RAM per node)
        # is a lot to claim on a shared machine
        argv += [
            "--num-cpus",
            str(self.cpus),
            "--disable-usage-stats",
            "--object-store-memory",
            str(100 << 20),
        ]
        if index == 0:
            argv += [
                "--head",
                "--port",
                str(self.port),
                "--include-dashboard=false",
                "--temp-dir",
                str(self.temp),
            ]
        else:
            argv += ["--address", self.address]
        log = open(self.temp / f"node-{index}.log", "wb")  # noqa: SIM115 - the node's lifetime
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        self.procs.append(
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        )
        self.ips.append(ip)

    def start(self, timeout: float = 180.0) -> LocalRayCluster:
        """Start every node; connect this process to the cluster; return once all are alive."""
        import ray

        self._start_node(0)
        deadline = time.monotonic() + timeout
        while True:  # the head's GCS port open
            with contextlib.suppress(OSError), socket.create_connection((self.head_ip, self.port), timeout=1):
                break
            self._check(deadline)
            time.sleep(0.3)
        for index in range(1, self.count):
            self._start_node(index)
        ray.init(
            address=self.address, _node_ip_address=self.head_ip, logging_level="WARNING", log_to_driver=False
        )
        while len(self.alive()) < self.count:
            self._check(deadline)
            time.sleep(0.3)
        return self

    def _check(self, deadline: float) -> None:
        for index, proc in enumerate(self.procs):
            if proc.poll() is not None:
                raise RuntimeError(f"ray node {index} exited: {self.log(index)[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Ray cluster did not come up: {self.log(0)[-2000:]}")

    def log(self, index: int) -> str:
        return (self.temp / f"node-{index}.log").read_text(errors="replace")

    @staticmethod
    def alive() -> list[str]:
        import ray

        return [n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")]

    def kill_node(self, index: int) -> int:
        """SIGKILL every process of node `index` (its session); return how many were killed."""
        sid, killed = self.procs[index].pid, 0
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if os.getsid(int(entry)) == sid:
                        os.kill(int(entry), signal.SIGKILL)
                        killed += 1
        with contextlib.suppress(Exception):
            self.procs[index].wait(timeout=10)
        return killed

    def stop(self) -> None:
        import ray

        with contextlib.suppress(Exception):
            ray.shutdown()
        for index in reversed(range(len(self.procs))):
            self.kill_node(index)
        shutil.rmtree(self.temp, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

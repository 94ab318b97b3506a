"""The Ray backend: every node of a Ray cluster runs snippets in its own sandbox pool.

`SandboxConfig(backend="ray", ray_address="HEAD:6379", node_backend="local")`: one actor per alive
node (pinned there by node affinity, `num_cpus=0` so it does not hold the CPUs its sandboxes use),
each owning a `SandboxPool` of `workers_per_node` preloaded workers (default: the node's CPUs) of
the node's own sandbox (bubblewrap or docker). The driver keeps at most `workers + 1` snippets in
flight per node (back-pressure: the rest waits on the driver, so a slow node never hoards work)
and yields results as they come; `run_snippets` streams them to the same JSONL, with resume.

A node that dies mid-run: Ray fails the calls in flight on its actor (`RayActorError`, within ~2 s
here); those snippets go back to the queue and run on the nodes left, and the node is named in
the run's stats (`lost_nodes`). A result reaches the output only when its call returned, so every
snippet gets exactly one row. If every node is lost the run stops with an error; the rows written
so far are kept and a re-run resumes. The actors, with their warm workers, serve every later batch
of the same config in this driver (a GRPO run calls the execution reward every step).

Ray is an optional extra: `pip install 'gorilla-rlaif[ray]'`; every node needs gorilla-rlaif (and,
for node_backend=docker, the sandbox image) installed.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gorilla_rlaif.harness.backends.base import BatchBackend, SandboxUnavailable
from gorilla_rlaif.harness.config import SandboxConfig
from gorilla_rlaif.harness.schema import ExecResult, Snippet, Status

log = logging.getLogger(__name__)


class SandboxNode:
    """The actor on one node: a long-lived `SandboxPool` of that node's sandbox."""

    def __init__(self, config: dict, workers: int):
        from gorilla_rlaif.harness.run import SandboxPool

        local = SandboxConfig.model_validate(
            {**config, "backend": config["node_backend"], "workers": workers}
        )
        self.pool = SandboxPool(local)

    def run(self, snippet: dict) -> dict:
        return self.pool.submit(Snippet.model_validate(snippet)).result().model_dump(mode="json")

    def where(self) -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid()}

    def close(self) -> None:
        self.pool.close()


@dataclass
class _Node:
    node_id: str
    name: str
    actor: Any
    capacity: int
    load: int = 0
    alive: bool = True
    refs: set = field(default_factory=set)


# The actors (and their warm sandbox pools) outlive one batch: a GRPO run calls the execution
# reward every step, and a new actor per call would pay its start and the workers' imports each
# time. Keyed by the whole config; closed when the driver exits.
_POOLS: dict[str, list[_Node]] = {}
_OWNED = {"ray": False}


def _close_pools() -> None:
    import ray

    if not ray.is_initialized():
        _POOLS.clear()
        return
    nodes = [n for pool in _POOLS.values() for n in pool]
    _POOLS.clear()
    closing = [n.actor.close.remote() for n in nodes if n.alive]
    if closing:  # stop the sandboxes (docker: remove the containers) before the actors go
        ray.wait(closing, num_returns=len(closing), timeout=30)
    for node in nodes:
        try:
            ray.kill(node.actor)
        except Exception as exc:
            log.debug("ray.kill(%s): %s", node.name, exc)
    if _OWNED["ray"]:
        ray.shutdown()
        _OWNED["ray"] = False


def _loopback_host(address: str | None) -> str | None:
    """The host of a loopback address (a cluster on this machine): the driver must say it is on
    that node, or Ray resolves the driver to the machine's outward address."""
    if not address or address == "auto":
        return None
    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


class RayBackend(BatchBackend):
    name = "ray"

    def __init__(self, config: SandboxConfig):
        super().__init__(config)
        self.stats = {"nodes": {}, "lost_nodes": [], "requeued": 0}
        self.nodes: list[_Node] = []

    def check(self) -> None:
        try:
            import ray
        except ImportError:
            raise SandboxUnavailable("the ray backend needs Ray: pip install 'gorilla-rlaif[ray]'") from None
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": self.config.ray_address, "logging_level": logging.WARNING}
            host = _loopback_host(self.config.ray_address)
            if host:
                kwargs["_node_ip_address"] = host
            try:
                ray.init(log_to_driver=False, **kwargs)
            except (ConnectionError, RuntimeError) as exc:
                raise SandboxUnavailable(
                    f"cannot join the Ray cluster at {self.config.ray_address or 'auto'}: {exc}; "
                    "start it with `ray start --head` (and `ray start --address HEAD:PORT` on each node)"
                ) from None
            if not _OWNED["ray"]:
                import atexit

                atexit.register(_close_pools)
            _OWNED["ray"] = True
        if not self._alive_nodes():
            raise SandboxUnavailable("the Ray cluster has no alive node with CPUs")

    @staticmethod
    def _alive_nodes() -> list[dict]:
        import ray

        return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]

    def _start_actors(self) -> list[_Node]:
        """The config's actors, one per alive node: those of an earlier batch, plus new ones on
        nodes that have none (nodes that joined since)."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # the job id changes with every ray.init: actors of an earlier connection are gone
        key = ray.get_runtime_context().get_job_id() + self.config.model_dump_json()
        nodes = [n for n in _POOLS.get(key, []) if n.alive]
        have = {n.node_id for n in nodes}
        config = self.config.model_dump(mode="json")
        for info in self._alive_nodes():
            if info["NodeID"] in have:
                continue
            workers = self.config.workers_per_node or max(1, int(info["Resources"]["CPU"]))
            actor_class = ray.remote(num_cpus=0, max_concurrency=workers + 2, max_restarts=0)(SandboxNode)
            actor = actor_class.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(info["NodeID"], soft=False)
            ).remote(config, workers)
            name = f"{info['NodeManagerAddress']} ({info['NodeID'][:8]})"
            nodes.append(_Node(info["NodeID"], name, actor, capacity=workers + 1))
        _POOLS[key] = nodes
        return nodes

    def run(self, snippets: list[Snippet]) -> Iterator[ExecResult]:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        self.nodes = self._start_actors()
        queue = deque(snippets)
        inflight: dict[Any, tuple[_Node, Snippet]] = {}
        while queue or inflight:
            for node in self.nodes:  # back-pressure: at most `capacity` snippets on a node at once
                while node.alive and node.load < node.capacity and queue:
                    snippet = queue.popleft()
                    ref = node.actor.run.remote(snippet.model_dump())
                    inflight[ref] = (node, snippet)
                    node.load += 1
                    node.refs.add(ref)
            if not inflight:
                lost = ", ".join(self.stats["lost_nodes"]) or "none"
                raise SandboxUnavailable(
                    f"every Ray node was lost (lost: {lost}); {len(queue)} snippets did not run. "
                    "Finished results are saved: re-run to resume"
                )
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=5.0)
            if ready:
                rest = [r for r in inflight if r not in ready]
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0) if rest else ([], [])
                ready = ready + more
            for ref in ready:
                if ref not in inflight:  # re-queued when its node was lost a moment ago
                    continue
                node, snippet = inflight.pop(ref)
                node.load -= 1
                node.refs.discard(ref)
                try:
                    row = ray.get(ref, timeout=30)
                except (RayActorError, GetTimeoutError) as exc:
                    self._lose(node, exc, inflight, queue, snippet)
                    continue
                except RayTaskError as exc:
                    if isinstance(exc.cause, SandboxUnavailable):  # the node cannot run a sandbox
                        self._lose(node, exc.cause, inflight, queue, snippet)
                        continue
                    row = ExecResult(
                        id=snippet.id,
                        status=Status.sandbox_error,
                        error_type=type(exc.cause).__name__ if exc.cause else "RayTaskError",
                        error_message=str(exc)[:2000],
                    ).model_dump(mode="json")
                self.stats["nodes"][node.name] = self.stats["nodes"].get(node.name, 0) + 1
                yield ExecResult.model_validate(row)

    def _lose(self, node: _Node, exc: BaseException, inflight: dict, queue: deque, snippet: Snippet) -> None:
        """Take `node` out; put its snippets in flight back at the head of the queue."""
        again = [snippet]
        for ref in list(node.refs):
            again.append(inflight.pop(ref)[1])
        node.refs.clear()
        node.load = 0
        if node.alive:
            node.alive = False
            self.stats["lost_nodes"].append(node.name)
            log.warning(
                "Ray node %s lost (%s): %d snippets in flight go to the other nodes",
                node.name,
                type(exc).__name__,
                len(again),
            )
        self.stats["requeued"] += len(again)
        queue.extendleft(reversed(again))

    def close(self) -> None:
        """The actors stay for the next batch (closed when the driver exits: `_close_pools`)."""
        self.nodes = []

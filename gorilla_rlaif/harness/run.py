"""`run_snippets`: the one public call of the harness. Schedules snippets over backend workers,
streams results to a JSONL file as they finish, and resumes an interrupted run."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path

from gorilla_rlaif.config import identity
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.harness.backends import load_backend
from gorilla_rlaif.harness.backends.base import WorkerPool, to_result
from gorilla_rlaif.harness.config import SandboxConfig
from gorilla_rlaif.harness.schema import ExecResult, Snippet, Status, code_sha256
from gorilla_rlaif.io import JsonlAppender
from gorilla_rlaif.provenance import stable_hash

log = logging.getLogger(__name__)


def _coerce(snippets: Iterable[Snippet | dict]) -> list[Snippet]:
    items, seen = [], set()
    for n, item in enumerate(snippets, start=1):
        try:
            snippet = item if isinstance(item, Snippet) else Snippet.model_validate(item)
        except Exception as exc:
            raise DataError(f"snippet #{n} is not {{'id': str, 'code': str}}: {exc}") from None
        if snippet.id in seen:
            raise DataError(f"snippet #{n}: duplicate id {snippet.id!r} (ids key the results file)")
        seen.add(snippet.id)
        items.append(snippet)
    return items


class SandboxPool:
    """A long-lived pool for a server or a Ray actor: one `WorkerPool` per preload profile
    (opened on first use, then kept warm), snippets submitted one by one from any thread."""

    def __init__(self, config: SandboxConfig):
        if config.backend not in ("local", "docker"):
            raise ValueError(
                f"a sandbox pool runs on this machine: backend local or docker, not {config.backend}"
            )
        self.config = config
        self.pools: dict[str, WorkerPool] = {}
        self.lock = threading.Lock()
        self.pending = 0

    def _pool(self, snippet: Snippet) -> WorkerPool:
        config = self.config
        if config.preload and config.preload_modules is None:
            from gorilla_rlaif.harness.world import PRELOAD_PROFILES, preload_profile

            profile = preload_profile(snippet.code)
            config = config.model_copy(update={"preload_modules": list(PRELOAD_PROFILES[profile])})
        else:
            profile = "all"
        with self.lock:
            pool = self.pools.get(profile)
            if pool is None:
                backend = load_backend(config)
                backend.check()
                pool = self.pools[profile] = WorkerPool(backend)
        return pool

    def submit(self, snippet: Snippet) -> Future[ExecResult]:
        future = self._pool(snippet).submit(snippet)
        with self.lock:
            self.pending += 1
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future) -> None:
        with self.lock:
            self.pending -= 1

    @property
    def restarts(self) -> int:
        return sum(pool.restarts for pool in self.pools.values())

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()


def run_snippets(
    snippets: Iterable[Snippet | dict],
    config: SandboxConfig,
    *,
    output: Path | str | None = None,
    progress: bool = True,
    stats: dict | None = None,
) -> list[ExecResult]:
    """Run every snippet in the sandbox `config` describes; return one result per snippet, in order.

    With `output`, each result is appended to that JSONL file as it finishes; a row already in the
    file is reused when it is of the same id, the same code and the same limits (an interrupted run
    re-runs only the snippets without such a row; a changed snippet or limit runs again, and the
    file keeps one row per id, the newest). `stats`, if given, receives what the backend noticed
    about the run itself (a Ray run: snippets per node, the nodes lost and the snippets re-queued).
    """
    from tqdm.auto import tqdm

    items = _coerce(snippets)
    results: dict[str, ExecResult] = {}
    base = sandbox_hash(config)
    keys = {s.id: (code_sha256(s.code), snippet_hash(base, s)) for s in items}
    appender = JsonlAppender(output) if output is not None else None
    stale = 0
    try:
        if appender is not None:
            for row in appender.rows:
                key = keys.get(row.get("id"))
                if key is None:
                    continue
                if (row.get("code_sha256"), row.get("sandbox_hash")) == key:
                    results[row["id"]] = ExecResult.model_validate(row)
                else:
                    stale += 1
        todo = [s for s in items if s.id not in results]
        if results:
            log.info("resuming: %d of %d snippets already have a result", len(results), len(items))
        if todo:
            bar = tqdm(total=len(todo), desc=f"exec ({config.backend})", unit="snippet", disable=not progress)
            try:
                for group_config, group in _worker_groups(config, todo):
                    backend = load_backend(group_config)
                    try:
                        backend.check()
                        for done in backend.run(group):
                            sha, limits = keys[done.id]
                            result = done.model_copy(update={"code_sha256": sha, "sandbox_hash": limits})
                            results[result.id] = result
                            if appender is not None:
                                appender.append(result.model_dump(mode="json"))
                            bar.update()
                            bar.set_postfix(ok=sum(r.status is Status.ok for r in results.values()))
                    finally:
                        backend.close()
                        if stats is not None:
                            _merge_stats(stats, backend.stats)
            finally:
                bar.close()
    finally:
        if appender is not None:
            appender.close()
    if output is not None and stale:  # rows of other code or limits were superseded: one row per id
        _compact(Path(output), [results[s.id] for s in items if s.id in results])
    return [results[s.id] for s in items]


def _merge_stats(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict):
            merged = into.setdefault(key, {})
            for k, v in value.items():
                merged[k] = merged.get(k, 0) + v if isinstance(v, (int, float)) else v
        elif isinstance(value, list):
            into.setdefault(key, []).extend(v for v in value if v not in into[key])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value
        else:
            into[key] = value


def _worker_groups(
    config: SandboxConfig, snippets: list[Snippet]
) -> list[tuple[SandboxConfig, list[Snippet]]]:
    """Preloaded workers import what their snippets need: without an explicit `preload_modules`,
    snippets are grouped by framework (`world.preload_profile`) and each group runs on workers
    preloaded with that profile, one group after the other (only one kind of worker is alive at
    a time, so memory stays that of one profile). A remote server and Ray nodes group on their
    side (their pools keep one kind of worker per profile)."""
    if not config.preload or config.preload_modules is not None or config.backend in ("remote", "ray"):
        return [(config, snippets)]
    from gorilla_rlaif.harness.world import PRELOAD_PROFILES, preload_profile

    groups: dict[str, list[Snippet]] = {}
    for snippet in snippets:
        groups.setdefault(preload_profile(snippet.code), []).append(snippet)
    return [
        (config.model_copy(update={"preload_modules": list(PRELOAD_PROFILES[name])}), group)
        for name, group in groups.items()
    ]


def sandbox_hash(config: SandboxConfig) -> str:
    """What decides a result (limits, isolation, image, the libraries and world snippets run
    against), not how fast it runs: rows of another execution environment are never reused.
    A remote sandbox is identified by what its server reports (`GET /health`) plus the limits
    this client asks for."""
    if config.backend == "remote":
        from gorilla_rlaif.harness.backends.remote import server_identity

        return stable_hash(
            {"server": server_identity(config), "timeout_s": config.timeout_s, "memory_mb": config.memory_mb},
            length=16,
        )
    from gorilla_rlaif.harness.world import fingerprint

    uses_world = config.world != "none" or (config.libraries == "apibench" and config.site_packages is None)
    return stable_hash({**identity(config), "world": fingerprint() if uses_world else None}, length=16)


def snippet_hash(base: str, snippet: Snippet) -> str:
    """The sandbox hash of one snippet: the config's, plus its own input and limits if it has any
    (stdin, files, a tighter timeout), so a changed input re-runs on resume."""
    extras = snippet.extras()
    return stable_hash({"sandbox": base, **extras}, length=16) if extras else base


def _compact(output: Path, current: list[ExecResult]) -> None:
    from gorilla_rlaif.io import read_jsonl, write_jsonl

    keep = {r.id: r.model_dump(mode="json") for r in current}
    others = [row for _, row in read_jsonl(output, allow_empty=True) if row.get("id") not in keep]
    write_jsonl(output, [*keep.values(), *others])


__all__ = ["SandboxPool", "WorkerPool", "run_snippets", "to_result"]

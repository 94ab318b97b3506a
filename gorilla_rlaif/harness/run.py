"""`run_snippets`: the one public call of the harness. Schedules snippets over backend workers,
streams results to a JSONL file as they finish, and resumes an interrupted run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from gorilla_rlaif.config import identity
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.harness.backends import Backend, Worker, WorkerBroken, load_backend
from gorilla_rlaif.harness.classify import classify
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


def to_result(snippet_id: str, raw: dict) -> ExecResult:
    fields = classify(raw)
    return ExecResult(
        id=snippet_id,
        status=Status(fields["status"]),
        exit_code=fields["exit_code"],
        duration_s=raw.get("duration_s", 0.0),
        error_type=fields["error_type"],
        error_message=fields["error_message"],
        traceback=((raw.get("child") or {}).get("exception") or {}).get("traceback"),
        stdout=raw.get("stdout", ""),
        stderr=raw.get("stderr", ""),
    )


class _WorkerPool:
    """One worker per thread, opened lazily, replaced when broken, all closed at the end."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.local = threading.local()
        self.opened: list[Worker] = []
        self.lock = threading.Lock()
        self.counter = 0

    def get(self) -> Worker:
        worker = getattr(self.local, "worker", None)
        if worker is None:
            with self.lock:
                index = self.counter
                self.counter += 1
            worker = self.backend.open_worker(index)
            with self.lock:
                self.opened.append(worker)
            self.local.worker = worker
        return worker

    def discard(self) -> None:
        worker = getattr(self.local, "worker", None)
        self.local.worker = None
        if worker is not None:
            worker.close()

    def close(self) -> None:
        for worker in self.opened:
            try:
                worker.close()
            except Exception as exc:
                log.warning("closing a sandbox worker failed: %s", exc)


def _run_one(pool: _WorkerPool, snippet: Snippet) -> ExecResult:
    start = time.monotonic()
    for attempt in (1, 2):
        try:
            raw = pool.get().execute(pool.backend.make_request(snippet.code))
            return to_result(snippet.id, raw)
        except WorkerBroken as exc:
            pool.discard()
            if len(exc.args) > 1 and isinstance(exc.args[1], dict):  # the worker knows the outcome
                return to_result(snippet.id, {**exc.args[1], "duration_s": time.monotonic() - start})
            log.warning("sandbox worker broke on %s (attempt %d): %s", snippet.id, attempt, exc.args[0])
            error = exc
        except Exception as exc:  # the harness failed, not the snippet
            log.exception("sandbox error on %s", snippet.id)
            pool.discard()
            error = exc
    return ExecResult(
        id=snippet.id,
        status=Status.sandbox_error,
        duration_s=time.monotonic() - start,
        error_type=type(error).__name__,
        error_message=str(error)[:2000],
    )


def run_snippets(
    snippets: Iterable[Snippet | dict],
    config: SandboxConfig,
    *,
    output: Path | str | None = None,
    progress: bool = True,
) -> list[ExecResult]:
    """Run every snippet in the sandbox `config` describes; return one result per snippet, in order.

    With `output`, each result is appended to that JSONL file as it finishes; a row already in the
    file is reused when it is of the same id, the same code and the same limits (an interrupted run
    re-runs only the snippets without such a row; a changed snippet or limit runs again, and the
    file keeps one row per id, the newest).
    """
    from tqdm.auto import tqdm

    items = _coerce(snippets)
    results: dict[str, ExecResult] = {}
    keys = {s.id: (code_sha256(s.code), sandbox_hash(config)) for s in items}
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
                    for done in _run_group(group_config, group):
                        sha, limits = keys[done.id]
                        result = done.model_copy(update={"code_sha256": sha, "sandbox_hash": limits})
                        results[result.id] = result
                        if appender is not None:
                            appender.append(result.model_dump(mode="json"))
                        bar.update()
                        bar.set_postfix(ok=sum(r.status is Status.ok for r in results.values()))
            finally:
                bar.close()
    finally:
        if appender is not None:
            appender.close()
    if output is not None and stale:  # rows of other code or limits were superseded: one row per id
        _compact(Path(output), [results[s.id] for s in items if s.id in results])
    return [results[s.id] for s in items]


def _worker_groups(
    config: SandboxConfig, snippets: list[Snippet]
) -> list[tuple[SandboxConfig, list[Snippet]]]:
    """Preloaded workers import what their snippets need: without an explicit `preload_modules`,
    snippets are grouped by framework (`world.preload_profile`) and each group runs on workers
    preloaded with that profile, one group after the other (only one kind of worker is alive at
    a time, so memory stays that of one profile)."""
    if not config.preload or config.preload_modules is not None:
        return [(config, snippets)]
    from gorilla_rlaif.harness.world import PRELOAD_PROFILES, preload_profile

    groups: dict[str, list[Snippet]] = {}
    for snippet in snippets:
        groups.setdefault(preload_profile(snippet.code), []).append(snippet)
    return [
        (config.model_copy(update={"preload_modules": list(PRELOAD_PROFILES[name])}), group)
        for name, group in groups.items()
    ]


def _run_group(config: SandboxConfig, snippets: list[Snippet]):
    """Yield one result per snippet as they finish, on `config.workers` workers of one kind."""
    backend = load_backend(config)
    backend.check()
    pool = _WorkerPool(backend)
    try:
        with ThreadPoolExecutor(max_workers=min(config.workers, len(snippets))) as executor:
            futures = [executor.submit(_run_one, pool, s) for s in snippets]
            for future in as_completed(futures):
                yield future.result()
    finally:
        pool.close()
        backend.close()


def sandbox_hash(config: SandboxConfig) -> str:
    """What decides a result (limits, isolation, image, the libraries and world snippets run
    against), not how fast it runs: rows of another execution environment are never reused."""
    from gorilla_rlaif.harness.world import fingerprint

    uses_world = config.world != "none" or (config.libraries == "apibench" and config.site_packages is None)
    return stable_hash({**identity(config), "world": fingerprint() if uses_world else None}, length=16)


def _compact(output: Path, current: list[ExecResult]) -> None:
    from gorilla_rlaif.io import read_jsonl, write_jsonl

    keep = {r.id: r.model_dump(mode="json") for r in current}
    others = [row for _, row in read_jsonl(output, allow_empty=True) if row.get("id") not in keep]
    write_jsonl(output, [*keep.values(), *others])


__all__ = ["run_snippets", "to_result"]

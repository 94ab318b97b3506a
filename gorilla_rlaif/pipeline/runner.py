"""Stage machinery: declared inputs and outputs, content hashes, skip/resume, a manifest, progress.

A `Stage` names the upstream stages whose outputs it reads (`after`), any other input files or
directories (`files`), its settings (`config`, JSON-able) and the paths it writes (`outputs`).
Its input hash covers all three: the settings, and the SHA-256 of every file of every input.

A stage is skipped when its last run finished, its outputs exist and its input hash is the one
recorded then. Otherwise it runs; since its outputs then change (they hold fresh provenance
records), the input hash of every stage downstream changes too, so deleting one stage's output
re-runs that stage and everything that depends on it, and nothing upstream. A stage that was
interrupted (status `running` or `failed` with the same input hash) keeps its partial outputs so
the stage's own resume works (candidates and labels are appended per row; trainers restart from
their checkpoints); stale outputs (a finished run with other inputs) are removed first.

Why not make/DVC/Snakemake: the stages are Python functions in one process sharing loaded
libraries, the graph is a dozen nodes, and the manifest has to carry our provenance (versions,
per-stage results) in the same file; content hashing with a stat cache is ~80 lines here.

`DIR/pipeline.json` (the manifest, rewritten atomically after every state change):

    {"pipeline": {...config hash, versions, started/finished...},
     "stages": {NAME: {"status": "done"|"running"|"failed", "input_hash", "inputs": {"config",
                "upstream": {stage: hash}, "files": {path: hash}}, "outputs": [paths],
                "output_hash", "started_at", "finished_at", "duration_s", "result": {...},
                "versions": {...}, "error"}},
     "runs": [{"started_at", "ran": [...], "skipped": [...]}],
     "file_hashes": {path: [size, mtime_ns, sha256]}}   # stat cache: unchanged files are not re-read
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gorilla_rlaif.errors import ConfigError, GorillaRlaifError
from gorilla_rlaif.io import write_json
from gorilla_rlaif.provenance import package_versions, stable_hash, utc_now

log = logging.getLogger(__name__)

MANIFEST = "pipeline.json"
_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}


@dataclass
class Stage:
    """One step of the pipeline. `run()` does the work and returns a small JSON-able summary."""

    name: str
    title: str
    run: Callable[[], dict[str, Any] | None]
    outputs: tuple[Path, ...]
    after: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    config: Any = None
    keep_partial: bool = True  # an interrupted run of the same inputs resumes in its outputs
    # files or folders inside the outputs that later stages may update and that no stage reads as
    # data (a model directory's README.md and .eval_results/ get the eval results): not hashed
    volatile: tuple[str, ...] = ()
    # what else decides the outputs and is neither config nor a file: the sandbox world an eval's
    # code runs against (a new execution environment or stand-in world re-runs the evals)
    identity: Callable[[], Any] | None = None

    def outputs_exist(self) -> bool:
        return all(p.exists() and (p.is_file() or any(p.iterdir())) for p in self.outputs)


@dataclass
class Decision:
    stage: Stage
    run: bool
    reason: str


@dataclass
class Manifest:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.exists():
            return cls(path, {"pipeline": {}, "stages": {}, "runs": [], "file_hashes": {}})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}: unreadable manifest ({exc.msg}, line {exc.lineno}); delete it to re-run every stage"
            ) from None
        for key, empty in (("pipeline", {}), ("stages", {}), ("runs", []), ("file_hashes", {})):
            data.setdefault(key, empty)
        return cls(path, data)

    def stage(self, name: str) -> dict[str, Any]:
        return self.data["stages"].get(name, {})

    def save(self) -> None:
        write_json(self.path, self.data)


class Hasher:
    """SHA-256 of files and directories, with a (size, mtime) cache kept in the manifest."""

    def __init__(self, cache: dict[str, list], root: Path):
        self.cache = cache
        self.root = root

    def _key(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path.resolve())

    def file(self, path: Path) -> str:
        st = path.stat()
        key = self._key(path)
        hit = self.cache.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        sha = digest.hexdigest()
        self.cache[key] = [st.st_size, st.st_mtime_ns, sha]
        return sha

    def path(self, path: Path, volatile: tuple[str, ...] = ()) -> str:
        """A file's hash, or a directory's: the hash of (relative name, file hash) of every file
        except those under the top-level `volatile` names."""
        if path.is_file():
            return self.file(path)
        if not path.is_dir():
            raise ConfigError(f"input {path} does not exist")
        entries = [
            (str(p.relative_to(path)), self.file(p))
            for p in sorted(path.rglob("*"))
            if p.is_file()
            and p.relative_to(path).parts[0] not in volatile
            and not _SKIP_PARTS.intersection(p.relative_to(path).parts)
        ]
        return stable_hash(entries, length=64)


class Pipeline:
    """Runs stages in order, skipping the up-to-date ones, recording everything in the manifest."""

    def __init__(self, stages: list[Stage], directory: Path, info: dict[str, Any] | None = None):
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ConfigError(f"duplicate stage names in {names}")
        for i, stage in enumerate(stages):
            unknown = [a for a in stage.after if a not in names[:i]]
            if unknown:
                raise ConfigError(f"stage {stage.name} depends on {unknown}, which do not run before it")
        self.stages = stages
        self.by_name = {s.name: s for s in stages}
        self.directory = directory
        self.info = info or {}
        self.manifest = Manifest.load(directory)
        self.hasher = Hasher(self.manifest.data["file_hashes"], directory)

    # ---- hashing and decisions ------------------------------------------------------------
    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.directory.resolve()))
        except ValueError:
            return str(path)

    def inputs_of(self, stage: Stage) -> dict[str, Any]:
        """What the stage's input hash covers (upstream outputs are hashed from disk, now)."""
        upstream = {name: self.output_hash(self.by_name[name]) for name in stage.after}
        files = {self._rel(p): self.hasher.path(p) for p in stage.files}
        inputs = {"config": stable_hash(stage.config, length=64), "upstream": upstream, "files": files}
        if stage.identity is not None:
            inputs["identity"] = stage.identity()
        return inputs

    def output_hash(self, stage: Stage) -> str:
        return stable_hash([self.hasher.path(p, stage.volatile) for p in stage.outputs], length=64)

    @staticmethod
    def _why_changed(old: dict[str, Any], new: dict[str, Any]) -> str:
        if old.get("config") != new["config"]:
            return "settings changed"
        if old.get("identity") != new.get("identity"):
            return "the sandbox (its execution environment or stand-in world) changed"
        for kind in ("upstream", "files"):
            for name, value in new[kind].items():
                if (old.get(kind) or {}).get(name) != value:
                    return f"input {name} changed"
        return "inputs changed"

    def decide(self, stage: Stage, rerun: set[str]) -> Decision:
        """Run or skip, and why. `rerun` holds the stages already known to run in this pass."""
        record = self.manifest.stage(stage.name)
        changed = [a for a in stage.after if a in rerun]
        if changed:
            return Decision(stage, True, f"{changed[0]} re-runs")
        if record.get("status") != "done":
            status = record.get("status")
            return Decision(stage, True, "never ran" if status is None else f"last run {status}, resuming")
        if not stage.outputs_exist():
            missing = next(
                p for p in stage.outputs if not p.exists() or (p.is_dir() and not any(p.iterdir()))
            )
            return Decision(stage, True, f"output {self._rel(missing)} missing")
        inputs = self.inputs_of(stage)
        if stable_hash(inputs, length=64) != record.get("input_hash"):
            return Decision(stage, True, self._why_changed(record.get("inputs") or {}, inputs))
        return Decision(stage, False, "up to date")

    def select(self, until: str | None = None) -> set[str]:
        """The stages a run `--until STAGE` runs: STAGE (a name without `@<seed>` means that stage
        of every seed) and every stage it depends on, nothing else. All stages when `until` is None.
        A name that is no stage is refused with the closest one."""
        if until is None:
            return set(self.by_name)
        targets = [n for n in self.by_name if until in (n, n.split("@")[0])]
        if not targets:
            import difflib

            names = list(dict.fromkeys([*(n.split("@")[0] for n in self.by_name), *self.by_name]))
            close = difflib.get_close_matches(until, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--until: unknown stage {until!r}{hint} (stages: {', '.join(names)})")
        wanted: set[str] = set()
        todo = list(targets)
        while todo:
            name = todo.pop()
            if name not in wanted:
                wanted.add(name)
                todo.extend(self.by_name[name].after)
        return wanted

    def check_until(self, until: str | None) -> None:
        """Refuse a `--until` that names no stage (with the closest name)."""
        self.select(until)

    def plan(self, until: str | None = None) -> list[Decision]:
        """What `run(until=...)` would do, without running anything (`--dry-run`): a decision for
        each stage it would consider, in order (with `until`, only those `select` keeps)."""
        wanted = self.select(until)
        rerun: set[str] = set()
        out = []
        for stage in self.stages:
            if stage.name not in wanted:
                continue
            decision = self.decide(stage, rerun)
            if decision.run:
                rerun.add(stage.name)
            out.append(decision)
        return out

    # ---- running ---------------------------------------------------------------------------
    def _clear_outputs(self, stage: Stage, record: dict[str, Any], input_hash: str) -> None:
        resumable = (
            stage.keep_partial
            and record.get("status") in ("running", "failed")
            and record.get("input_hash") == input_hash
        )
        if resumable:
            return
        for path in stage.outputs:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    def run(self, progress: bool = True, until: str | None = None) -> dict[str, Any]:
        """Run every stage that is not up to date (only STAGE and what it needs with `until`);
        return the manifest."""
        wanted = self.select(until)
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.manifest.data
        data["pipeline"].update(self.info)
        data["pipeline"]["started_at"] = utc_now()
        data["pipeline"]["status"] = "running"
        data["pipeline"]["stage_order"] = [s.name for s in self.stages]
        this_run: dict[str, Any] = {"started_at": utc_now(), "ran": [], "skipped": []}
        data["runs"].append(this_run)
        self.manifest.save()
        rerun: set[str] = set()
        total = len(self.stages)
        for k, stage in enumerate(self.stages, start=1):
            if stage.name not in wanted:
                continue
            decision = self.decide(stage, rerun)
            if decision.run:
                rerun.add(stage.name)
                _say(progress, f"[{k}/{total}] {stage.name}: {stage.title} ({decision.reason})")
                self._run_stage(stage)
                this_run["ran"].append(stage.name)
                record = self.manifest.stage(stage.name)
                _say(progress, f"[{k}/{total}] {stage.name}: done in {record['duration_s']:.1f} s")
            else:
                this_run["skipped"].append(stage.name)
                _say(progress, f"[{k}/{total}] {stage.name}: skipped ({decision.reason})")
        data["pipeline"]["status"] = "done" if len(wanted) == total else f"stopped after {until}"
        data["pipeline"]["finished_at"] = utc_now()
        this_run["finished_at"] = data["pipeline"]["finished_at"]
        self.manifest.save()
        return data

    def _run_stage(self, stage: Stage) -> None:
        record_before = dict(self.manifest.stage(stage.name))
        inputs = self.inputs_of(stage)
        input_hash = stable_hash(inputs, length=64)
        self._clear_outputs(stage, record_before, input_hash)
        record = {
            "status": "running",
            "title": stage.title,
            "input_hash": input_hash,
            "inputs": inputs,
            "outputs": [self._rel(p) for p in stage.outputs],
            "started_at": utc_now(),
            "versions": package_versions(),
        }
        self.manifest.data["stages"][stage.name] = record
        self.manifest.save()
        started = time.perf_counter()
        try:
            result = stage.run() or {}
        except BaseException as exc:
            record.update(
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
                traceback=None if isinstance(exc, GorillaRlaifError) else traceback.format_exc(limit=8),
                duration_s=round(time.perf_counter() - started, 2),
                finished_at=utc_now(),
            )
            self.manifest.data["pipeline"]["status"] = f"failed at {stage.name}"
            self.manifest.save()
            raise
        missing = [self._rel(p) for p in stage.outputs if not p.exists()]
        if missing:
            raise GorillaRlaifError(f"stage {stage.name} finished but did not write {', '.join(missing)}")
        record.update(
            status="done",
            duration_s=round(time.perf_counter() - started, 2),
            finished_at=utc_now(),
            output_hash=self.output_hash(stage),
            result=json.loads(json.dumps(result, default=str)),
        )
        record.pop("error", None)
        self.manifest.save()


def _say(enabled: bool, text: str) -> None:
    """A progress line between the stages' own bars (tqdm.write keeps bars intact)."""
    if not enabled:
        log.info(text)
        return
    from tqdm.auto import tqdm

    tqdm.write(f"==> {text}", file=sys.stderr)

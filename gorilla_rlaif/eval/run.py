"""`run_eval(EvalConfig) -> Path`: generate, execute, score, write `OUTPUT/MODEL/RUN/`.

Layout of a run directory:

    run.json          the config, its hash, status (running/complete); written first
    samples.jsonl     one row per (run, question): prompt, response, its SHA-256, parsed sections,
                      then (once scored) `score` (AST verdict, matched API, ROUGE-L, CodeBLEU) and
                      `exec` (sandbox status, error type); appended as generated, so a killed eval
                      resumes with the rows it has
    executions.jsonl  the sandbox's full results (stdout/stderr) per distinct code, resumable
    results.json      model, config, versions, data hashes; per hub: n, each metric with a 95%
                      interval, per-run values and spread, execution status counts; timings and
                      backend counters (API requests, tokens, cost) of the invocation that generated

Stages run one after the other and hand off through these files: generation (resumable by
sample id), execution (resumable by code hash), scoring (cheap, always recomputed from the rows).
`gorilla-bench report RUN_DIR` re-runs the last two on the saved samples without generating.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from gorilla_rlaif.artifacts import SampleRow, parse_row
from gorilla_rlaif.errors import ConfigError, DataError, GorillaRlaifError
from gorilla_rlaif.eval.config import EvalConfig
from gorilla_rlaif.eval.prompts import EvalPrompt, HubPrompts, load_eval_prompts
from gorilla_rlaif.io import JsonlAppender, read_jsonl, write_json, write_jsonl
from gorilla_rlaif.provenance import provenance, utc_now

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"


def response_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sample_id(prompt: EvalPrompt, run: int) -> str:
    return f"{prompt.record.id}#r{run}"


def run_seed(config: EvalConfig, run: int) -> int:
    return config.seed + run


def _prepare_run_dir(config: EvalConfig) -> Path:
    run_dir = config.run_dir
    run_file = run_dir / RUN_FILE
    if run_file.exists():
        saved = read_run_file(run_dir)
        if saved.get("config_hash") != config.config_hash:
            raise ConfigError(
                f"{run_dir} holds a run made with another configuration (config hash "
                f"{saved.get('config_hash')} != {config.config_hash}): choose another --run-name or "
                "--output-path, or delete the directory to start over"
            )
    elif (run_dir / SAMPLES_FILE).exists():
        raise ConfigError(
            f"{run_dir} has samples but no {RUN_FILE}: not a run this toolkit made; use another --run-name"
        )
    write_json(
        run_file,
        {
            "config": config.model_dump(mode="json"),
            "config_hash": config.config_hash,
            "status": "running",
            "updated_at": utc_now(),
        },
    )
    return run_dir


def read_run_file(run_dir: Path) -> dict[str, Any]:
    """`RUN/run.json`: the config the run was made with (a damaged file is named, not a traceback)."""
    path = run_dir / RUN_FILE
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"unreadable ({type(exc).__name__}: {exc}); delete the run directory to start over", path=path
        ) from None
    if not isinstance(saved, dict) or "config" not in saved:
        raise DataError("not a run record of gorilla-bench eval (no 'config')", path=path)
    return saved


def run_eval(config: EvalConfig, *, backend: Any = None) -> Path:
    """Evaluate `config.model` and return the run directory (holding results.json).

    Resumes a run directory made with the same configuration: prompts already answered are not
    asked again, snippets already executed are not run again. `backend` lets a caller pass an
    already-loaded `EvalBackend` (the pipeline evaluates a model it just trained).
    """
    if backend is None:
        from gorilla_rlaif.eval.backends import backend_class

        backend_class(config).check(config)  # before anything is written
    run_dir = _prepare_run_dir(config)
    hub_prompts = load_eval_prompts(config)
    timing: dict[str, Any] = {}
    appender = JsonlAppender(run_dir / SAMPLES_FILE, key="id")
    todo = [
        (run, prompt)
        for run in range(config.num_runs)
        for hub in config.hubs
        for prompt in hub_prompts[hub].prompts
        if sample_id(prompt, run) not in appender
    ]
    total = config.num_runs * sum(len(h.prompts) for h in hub_prompts.values())
    log.info("%s: %d of %d samples to generate", run_dir, len(todo), total)
    failed: list[str] = []
    backend_info: dict[str, Any] | None = None
    backend_stats: dict[str, Any] = {}
    owned = backend is None
    try:
        if todo:
            if backend is None:
                from gorilla_rlaif.eval.backends import make_backend

                backend = make_backend(config)
            backend_info = backend.describe()
            failed, timing["generation"] = _generate(config, backend, todo, appender, total)
            backend_stats = backend.stats()
    finally:
        appender.close()
        if owned and backend is not None:
            backend.close()
    rows = [row for _, row in read_jsonl(run_dir / SAMPLES_FILE, allow_empty=True)]
    if failed and not rows:
        raise GorillaRlaifError(f"no answer came back ({len(failed)} requests failed, first: {failed[0]})")
    previous = _read_results(run_dir)
    if not todo and previous:  # nothing generated now: keep what the generating invocation recorded
        backend_info = previous.get("backend")
        backend_stats = previous.get("backend_stats") or {}
        if previous.get("timing", {}).get("generation"):
            timing["generation"] = previous["timing"]["generation"]
    finalize_run(
        config,
        run_dir,
        hub_prompts,
        rows,
        backend_info=backend_info,
        backend_stats=backend_stats,
        timing=timing,
        failed=failed,
    )
    if failed:
        raise GorillaRlaifError(
            f"{len(failed)} request(s) got no answer (first: {failed[0]}); {run_dir / RESULTS_FILE} covers "
            f"the {len(rows)} answered samples; re-run the same command to retry the rest"
        )
    return run_dir


def _generate(
    config: EvalConfig, backend: Any, todo: list[tuple[int, EvalPrompt]], appender: JsonlAppender, total: int
) -> tuple[list[str], dict[str, Any]]:
    bar = None
    if config.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=total - len(todo), unit="prompt", desc="generate")
    size = (
        getattr(backend, "batch_size", None) or config.generation.batch_size
    )  # callers may pass any object with complete()
    failed: list[str] = []
    tokens = 0
    started = time.perf_counter()
    try:
        # Batches never mix runs (one seed per batch) and go hub by hub (similar prompt lengths).
        groups: dict[tuple[int, str], list[EvalPrompt]] = {}
        for run, prompt in todo:
            groups.setdefault((run, prompt.hub), []).append(prompt)
        for (run, _hub), prompts in groups.items():
            for start in range(0, len(prompts), size):
                batch = prompts[start : start + size]
                seed = run_seed(config, run) * 1_000_003 + batch[0].question_id
                completions = backend.complete(batch, seed)
                for prompt, completion in zip(batch, completions, strict=True):
                    sid = sample_id(prompt, run)
                    if completion.error is not None:
                        failed.append(f"{sid}: {completion.error}")
                        continue
                    tokens += completion.tokens or 0
                    appender.append(_sample_row(config, backend, prompt, run, seed, completion))
                if bar is not None:
                    bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    return failed, {
        "seconds": round(seconds, 3),
        "samples": len(todo) - len(failed),
        "generated_tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 2) if seconds > 0 and tokens else None,
    }


def _sample_row(
    config: EvalConfig, backend: Any, prompt: EvalPrompt, run: int, seed: int, completion: Any
) -> dict[str, Any]:
    from gorilla_rlaif.data import parse_completion

    row = SampleRow(
        id=sample_id(prompt, run),
        run=run,
        hub=prompt.hub,
        question_id=prompt.question_id,
        record_id=prompt.record.id,
        seed=seed,
        prompt=backend.shown_prompt(prompt),
        response=completion.text,
        response_sha256=response_sha256(completion.text),
        parsed=parse_completion(completion.text),
        tokens=completion.tokens,
        **({"meta": completion.meta} if completion.meta else {}),
    )
    return row.model_dump(mode="json", exclude_unset=True)


def _read_results(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / RESULTS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def finalize_run(
    config: EvalConfig,
    run_dir: Path,
    hub_prompts: dict[str, HubPrompts],
    rows: list[dict[str, Any]],
    *,
    backend_info: dict[str, Any] | None,
    backend_stats: dict[str, Any] | None = None,
    timing: dict[str, Any] | None = None,
    failed: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Execute (resumably), score and aggregate `rows`; rewrite samples.jsonl with verdicts; write results.json."""
    from gorilla_rlaif.eval.execute import exec_field, execute_samples
    from gorilla_rlaif.eval.score import aggregate_hub, matcher_for, score_hub

    timing = dict(timing or {})
    _check_rows(run_dir, rows, hub_prompts)
    records = {hub: {p.question_id: p.record for p in hp.prompts} for hub, hp in hub_prompts.items()}

    started = time.perf_counter()
    all_records = [r for hp in hub_prompts.values() for r in hp.records]
    executed = execute_samples(config, rows, all_records, run_dir)
    timing["execution"] = {"seconds": round(time.perf_counter() - started, 3), "snippets": len(executed)}

    started = time.perf_counter()
    by_group: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        by_group.setdefault((row["hub"], row["run"]), []).append(row)
    matchers = {hub: matcher_for(hub, config.data_dir) for hub in {hub for hub, _ in by_group}}
    for (hub, run), group in sorted(by_group.items()):
        verdicts = score_hub(
            hub, group, list(records[hub].values()), seed=config.seed + run, matcher=matchers[hub]
        )
        for row, verdict in zip(group, verdicts, strict=True):
            row["score"] = verdict
    for row in rows:
        row["exec"] = exec_field(row, executed, config.sandbox_backend)
    hubs: dict[str, Any] = {}
    for hub in config.hubs:
        hub_rows = [r for r in rows if r["hub"] == hub]
        block = aggregate_hub(hub_rows, config.num_runs, bootstrap=config.bootstrap, seed=config.seed)
        block["prompts"] = len(hub_prompts[hub].prompts)
        block["split"] = hub_prompts[hub].split_info
        block["unaskable_records"] = hub_prompts[hub].skipped
        block["complete"] = len(hub_rows) == config.num_runs * len(hub_prompts[hub].prompts)
        hubs[hub] = block
    timing["scoring"] = {"seconds": round(time.perf_counter() - started, 3)}

    write_jsonl(run_dir / SAMPLES_FILE, _ordered(rows, hub_prompts, config))
    inputs = {hub: hp.files for hub, hp in hub_prompts.items()}
    record = provenance(
        config,
        inputs=inputs,
        model=config.model,
        model_slug=config.model_slug,
        run_name=run_dir.name,
        config_hash=config.config_hash,
        backend=backend_info,
        backend_stats=backend_stats or {},
        hubs=hubs,
        timing=timing,
        missing_samples=failed or [],
        status="complete" if not failed and all(h["complete"] for h in hubs.values()) else "incomplete",
        **(extra or {}),
    )
    write_json(run_dir / RESULTS_FILE, record)
    run_file = run_dir / RUN_FILE
    state = json.loads(run_file.read_text(encoding="utf-8")) if run_file.exists() else {}
    write_json(run_file, {**state, "status": record["status"], "updated_at": utc_now()})
    return record


def _check_rows(run_dir: Path, rows: list[dict[str, Any]], hub_prompts: dict[str, HubPrompts]) -> None:
    """Saved samples must belong to these prompts and their responses to their hashes."""
    known = {(hub, p.question_id) for hub, hp in hub_prompts.items() for p in hp.prompts}
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        where = run_dir / SAMPLES_FILE
        parse_row(SampleRow, row, where, number)
        if row["id"] in seen:
            raise DataError(
                f"duplicate sample {row['id']} (first on line {seen[row['id']]}): a sample is scored once",
                path=where,
                line=number,
            )
        seen[row["id"]] = number
        if (row["hub"], row["question_id"]) not in known:
            raise DataError(
                f"sample {row['id']} is not one of this run's prompts (config changed?)",
                path=where,
                line=number,
            )
        if response_sha256(row["response"]) != row["response_sha256"]:
            raise DataError(
                f"sample {row['id']}: response does not match its response_sha256 (edited by hand?)",
                path=where,
                line=number,
            )


def _ordered(
    rows: list[dict[str, Any]], hub_prompts: dict[str, HubPrompts], config: EvalConfig
) -> list[dict[str, Any]]:
    order = {(hub, p.question_id): i for hub, hp in hub_prompts.items() for i, p in enumerate(hp.prompts)}
    hub_rank = {hub: i for i, hub in enumerate(config.hubs)}
    return sorted(rows, key=lambda r: (r["run"], hub_rank[r["hub"]], order[(r["hub"], r["question_id"])]))

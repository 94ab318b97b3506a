"""Label candidates with a judge: the orchestrator behind `gorilla-rlaif label`.

Reads candidate rows, skips those already in the output (resume), sends the rest to the judge
and appends one feedback row per candidate the moment its judgment is ready (JsonlAppender:
flushed per row; a torn last line from a crash is cut on restart). Paid answers also live in the
judge's SQLite cache, so a killed run loses nothing it paid for. Failed rows are kept with their
reason and re-judged only with `retry_failed`; the file is compacted at the end (one row per
candidate, in input order, the newest judgment of each).

A feedback row: the candidate's fields, then `status` ("ok" | "failed"), `error`, `score`
(desirable answers, None when failed), `max_score`, `weighted_score` (sum of P(desirable), when
the backend gives probabilities), `answers` and `p_yes` per question, `raw` answers, `judge`
(backend, model, mode, rubric and its hash), `usage`, `cost_usd`, `judged_at`.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.artifacts import CandidateRow, FeedbackRow, JudgeInfo, JudgeUsage, parse_row
from gorilla_rlaif.config import operational
from gorilla_rlaif.errors import ConfigError, DataError
from gorilla_rlaif.io import JsonlAppender, read_jsonl, sha256_file, write_json, write_jsonl
from gorilla_rlaif.judge.base import JudgeConfig, JudgeItem, Judgment, instruction_from_prompt, make_judge
from gorilla_rlaif.judge.rubric import Rubric, load_rubric
from gorilla_rlaif.provenance import provenance, stable_hash, utc_now
from gorilla_rlaif.sidecar import check_outputs, sidecar_path

log = logging.getLogger(__name__)


class LabelConfig(BaseModel):
    """What `gorilla-rlaif label` does: which candidates, which judge, where results go."""

    model_config = ConfigDict(extra="forbid")

    candidates: str = Field(description="candidates JSONL (from `gorilla-rlaif generate`)")
    output: str = Field(description="feedback JSONL (appended to / resumed)")
    cache: str | None = operational(
        None, description="openai judge: SQLite answer cache (default: OUTPUT's name + .cache.sqlite)"
    )
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    limit: int | None = Field(None, ge=1, description="label only the first N candidates")
    progress: bool = operational(True, description="progress bar")

    @property
    def cache_path(self) -> Path:
        if self.cache:
            return Path(self.cache)
        out = Path(self.output)
        return out.with_name(out.name.removesuffix(".jsonl") + ".cache.sqlite")

    @property
    def meta_path(self) -> Path:
        return sidecar_path(self.output)


def read_candidates(path: str | Path, limit: int | None = None) -> list[CandidateRow]:
    """Candidate rows (`CandidateRow`, ids unique); errors name the file, line and field."""
    rows: list[CandidateRow] = []
    seen: dict[str, int] = {}
    for line, raw in read_jsonl(path):
        row = parse_row(CandidateRow, raw, path, line)
        if row.id in seen:
            raise DataError(f"duplicate id {row.id!r} (first on line {seen[row.id]})", path=path, line=line)
        seen[row.id] = line
        rows.append(row)
        if limit and len(rows) >= limit:
            break
    return rows


def to_item(row: CandidateRow, default_hub: str | None) -> JudgeItem:
    return JudgeItem(
        id=row.id,
        instruction=instruction_from_prompt(row.prompt),
        completion=row.completion,
        hub=row.hub or default_hub,
        reference=row.reference.model_dump(exclude_none=True) if row.reference else None,
    )


def feedback_row(
    candidate: CandidateRow, judgment: Judgment, rubric: Rubric, judge_info: dict[str, Any]
) -> dict[str, Any]:
    """The candidate's fields as given, then the judge's (`FeedbackRow`)."""
    ok = judgment.ok
    weighted = rubric.weighted_score(judgment.p_yes) if ok else None
    row = FeedbackRow(
        **candidate.model_dump(exclude_unset=True),
        status="ok" if ok else "failed",
        error=judgment.error,
        score=rubric.score(judgment.answers) if ok else None,
        max_score=rubric.max_score,
        weighted_score=round(weighted, 6) if weighted is not None else None,
        answers=judgment.answers,
        p_yes=judgment.p_yes,
        raw=judgment.raw,
        judge=JudgeInfo.model_validate(judge_info),
        usage=JudgeUsage(
            requests=judgment.requests,
            cached_requests=judgment.cached_requests,
            prompt_tokens=judgment.prompt_tokens,
            completion_tokens=judgment.completion_tokens,
        ),
        cost_usd=judgment.cost_usd,
        judged_at=utc_now(),
        **({"judge_notes": judgment.extra} if judgment.extra else {}),
    )
    return row.model_dump(mode="json", exclude_unset=True)


def _check_compatible(config: LabelConfig, settings_hash: str, existing: list[dict[str, Any]]) -> None:
    from gorilla_rlaif.sidecar import read_sidecar

    if not existing:
        return
    meta = read_sidecar(config.output)
    if meta is not None:
        previous = meta.get("judge_settings_hash")
    else:
        previous = (existing[-1].get("judge") or {}).get("settings_hash")
    if previous and previous != settings_hash:
        raise ConfigError(
            f"{config.output} was labeled with other judge settings (hash {previous[:12]} != {settings_hash[:12]}): "
            "use a new --output, or delete the file to start over"
        )


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r.get("status") == "ok"]
    failed = [r for r in rows if r.get("status") != "ok"]
    costs = [r.get("cost_usd") for r in rows]
    return {
        "rows": len(rows),
        "ok": len(ok),
        "failed": len(failed),
        "score_histogram": dict(sorted(Counter(r["score"] for r in ok).items())),
        "mean_score": round(sum(r["score"] for r in ok) / len(ok), 4) if ok else None,
        "cost_usd": None if any(c is None for c in costs) else round(sum(costs), 6),
        "failure_reasons": dict(Counter((r.get("error") or "")[:120] for r in failed).most_common(10)),
    }


def label(config: LabelConfig, progress: bool = True) -> dict[str, Any]:
    """Judge every candidate of `config.candidates` into `config.output`; return the summary."""
    check_outputs({"candidates": config.candidates}, {"output": config.output}, stage="label")
    rubric = load_rubric(config.judge.rubric)
    candidates = read_candidates(config.candidates, config.limit)
    cache = None
    if config.judge.backend == "openai":
        from gorilla_rlaif.llm import ResponseCache

        cache = ResponseCache(config.cache_path)
    judge = make_judge(config.judge, rubric, **({"cache": cache} if cache is not None else {}))
    settings = judge.settings()
    settings_hash = stable_hash(settings, length=32)
    judge_info = {**settings, "settings_hash": settings_hash}

    appender = JsonlAppender(config.output, key="id")
    try:
        _check_compatible(config, settings_hash, appender.rows)
        latest = {row.get("id"): row for row in appender.rows}
        strangers = len(set(latest) - {c.id for c in candidates})
        if strangers:
            log.warning(
                "%s holds %d row(s) of candidates not in %s: kept",
                config.output,
                strangers,
                config.candidates,
            )
        retry = config.judge.openai.llm.retry_failed
        todo = [c for c in candidates if c.id not in latest or (retry and latest[c.id].get("status") != "ok")]
        meta = _meta(config, judge_info, rubric, status="running", summary=None)
        write_json(config.meta_path, meta)
        log.info(
            "%d candidates: %d already labeled, %d to judge with %s",
            len(candidates),
            len(candidates) - len(todo),
            len(todo),
            config.judge.judge,
        )
        counters = {
            "failed": sum(1 for r in latest.values() if r.get("status") != "ok" and not retry),
            "cost": 0.0,
        }
        bar = _progress_bar(len(candidates), len(candidates) - len(todo), progress)

        def on_result(index: int, judgment: Judgment) -> None:
            row = feedback_row(todo[index], judgment, rubric, judge_info)
            appender.append(row)
            counters["failed"] += row["status"] != "ok"
            counters["cost"] += judgment.spent_usd
            if bar is not None:
                bar.set_postfix(cost=f"${counters['cost']:.4f}", failed=counters["failed"], refresh=False)
                bar.update(1)

        if todo:
            default_hub = config.judge.rules.hub
            judge.judge([to_item(c, default_hub) for c in todo], on_result)
        if bar is not None:
            bar.close()
    finally:
        appender.close()
        judge.close()
        if cache is not None:
            cache.close()

    rows = _compact(config.output, candidates)
    summary = summarize(rows)
    summary["run"] = judge.totals()
    write_json(config.meta_path, _meta(config, judge_info, rubric, status="complete", summary=summary))
    return summary


def _compact(output: str | Path, candidates: list[CandidateRow]) -> list[dict[str, Any]]:
    """One row per candidate (the newest), in input order; rows of other ids are kept at the end."""
    latest: dict[str, dict[str, Any]] = {}
    for _, row in read_jsonl(output, allow_empty=True):
        latest[str(row.get("id"))] = row
    order = [c.id for c in candidates if c.id in latest]
    known = set(order)
    rows = [latest[i] for i in order] + [r for i, r in latest.items() if i not in known]
    write_jsonl(output, rows)
    return rows


def _meta(
    config: LabelConfig, judge_info: dict[str, Any], rubric: Rubric, *, status: str, summary: Any
) -> dict[str, Any]:
    from gorilla_rlaif.sidecar import read_sidecar

    inputs = {"candidates": {"path": config.candidates, "sha256": sha256_file(config.candidates)}}
    return provenance(
        config,
        inputs=inputs,
        stage="label",
        status=status,
        judge=judge_info,
        judge_settings_hash=judge_info["settings_hash"],
        rubric=rubric.model_dump(mode="json"),
        rubric_hash=rubric.hash,
        generation=read_sidecar(config.candidates),
        summary=summary,
    )


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="row", desc="label", dynamic_ncols=True, smoothing=0.1)

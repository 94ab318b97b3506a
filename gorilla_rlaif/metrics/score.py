"""Score model responses against APIBench records: the library behind `gorilla-bench score`.

`score_responses` is what `gorilla-bench score`, `gorilla-bench eval` and the pipeline call.
Input: responses in Gorilla's own format (`{"question_id": 1, "text": "..."}`, question ids are
1-based line numbers of the hub's eval file) and, by default, the hub's eval records. Output: a
`ScoreReport` with one row per response and a summary whose rates carry bootstrap intervals.

Summary keys (`ScoreReport.summary`):

| key | meaning |
|---|---|
| `n` | number of responses (Gorilla divides every AST rate by it) |
| `ast_accuracy`, `hallucination_rate`, `error_rate` | shares of verdicts correct / hallucination / error (Gorilla's rules, or strict ones with `strict=True`, see `mode`) |
| `ast_accuracy_strict` | share of responses that call the gold API (always reported) |
| `rouge_l`, `codebleu` | mean over responses with a `code` section (and a gold code) |
| `n_without_code` | responses without a `code` section (not in the ROUGE-L/CodeBLEU means) |

Each rate and mean is `{"value": x, "ci95": [low, high]}` (percentile bootstrap over responses,
`bootstrap` resamples, seeded). Rows: `question_id`, `ast_verdict`, `matched_api`,
`strict_correct`, `rouge_l`, `codebleu` (None without code), `has_code`, `reason`.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gorilla_rlaif.data import ApiBenchRecord, LoadResult, load_api_db, load_records, normalize_hub
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.metrics.ast_match import ApiMatcher
from gorilla_rlaif.metrics.stats import estimate
from gorilla_rlaif.metrics.text import codebleu, response_code, rouge_l

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    """One model response in Gorilla's format."""

    question_id: int
    text: str


@dataclass
class ScoreRow:
    question_id: int
    ast_verdict: str
    matched_api: str | None
    strict_correct: bool | None
    rouge_l: float | None
    codebleu: float | None
    has_code: bool
    reason: str = ""


@dataclass
class ScoreReport:
    hub: str
    rows: list[ScoreRow]
    summary: dict[str, Any] = field(default_factory=dict)

    def row_dicts(self) -> list[dict[str, Any]]:
        return [asdict(row) for row in self.rows]


def load_responses(path: str | Path) -> list[Response]:
    """Read a Gorilla response file (JSON Lines with `question_id` and `text`), one response per
    question (a second one would be counted twice); errors name the line."""
    responses = []
    seen: dict[int, int] = {}
    for line, obj in _read(path):
        response = _coerce(obj, where=f"line {line}", path=path, line=line)
        if response.question_id in seen:
            raise DataError(
                f"duplicate question_id {response.question_id} (first on line {seen[response.question_id]}): "
                "one response per question",
                path=path,
                line=line,
            )
        seen[response.question_id] = line
        responses.append(response)
    return responses


# What the API call of an answer looks like on each hub (Gorilla's three providers).
HUB_CALLS: dict[str, re.Pattern[str]] = {
    "torchhub": re.compile(r"torch\.hub\.load\s*\("),
    "tensorflowhub": re.compile(r"(?<!torch\.)\bhub\.(KerasLayer|load)\s*\(|tfhub\.dev"),
    "huggingface": re.compile(r"\.from_pretrained\s*\(|\bpipeline\s*\("),
}


HUB_EXAMPLES = {
    "torchhub": "torch.hub.load(...)",
    "tensorflowhub": "hub.KerasLayer(...)",
    "huggingface": "from_pretrained(...), pipeline(...)",
}


def detect_hub(text: str) -> str | None:
    """The hub whose kind of API call a response makes (its `api_call` section, else its text)."""
    from gorilla_rlaif.data import parse_completion

    call = parse_completion(text).get("api_call") or text
    found = [hub for hub, pattern in HUB_CALLS.items() if pattern.search(call)]
    return found[0] if len(found) == 1 else None


def check_hub(hub: str, responses: Sequence[Response], path: str | Path | None = None) -> None:
    """Refuse responses that answer another hub's questions: scored against `hub`'s records they
    would all count as hallucinations, a wrong number rather than an error."""
    hub = normalize_hub(hub)
    counts = Counter(detect_hub(r.text) for r in responses)
    counts.pop(None, None)
    if not counts:
        return
    other, n = counts.most_common(1)[0]
    if other != hub and n > len(responses) / 2 and counts[hub] < n:
        where = f"{path}: " if path else ""
        raise DataError(
            f"{where}{n} of {len(responses)} responses call {other} APIs ({HUB_EXAMPLES[other]}), not "
            f"{hub} ones: scored against {hub} they would all be hallucinations; score them with --hub {other}"
        )


def _read(path: str | Path) -> Iterable[tuple[int, dict[str, Any]]]:
    from gorilla_rlaif.io import read_jsonl

    return read_jsonl(path)


def _coerce(obj: Any, *, where: str, path: str | Path | None = None, line: int | None = None) -> Response:
    if isinstance(obj, Response):
        return obj
    get = obj.get if isinstance(obj, Mapping) else lambda key: getattr(obj, key, None)
    qid, text = get("question_id"), get("text")
    problems = []
    if qid is None:
        problems.append("missing 'question_id'")
    elif isinstance(qid, bool) or not isinstance(qid, int) or qid < 1:
        problems.append(f"'question_id' must be a positive integer, got {qid!r}")
    if text is None:
        problems.append("missing 'text'")
    elif not isinstance(text, str):
        problems.append(f"'text' must be a string, got {type(text).__name__}")
    if problems:
        message = "; ".join(problems) + ' (Gorilla\'s response format: {"question_id": 1, "text": "..."})'
        if path is not None:
            raise DataError(message, path=path, line=line)
        raise DataError(f"response {where}: {message}")
    return Response(question_id=qid, text=text)


def _gold_code(record: ApiBenchRecord) -> str | None:
    if record.output is not None and record.output.code.strip():
        return record.output.code.strip()
    return response_code(record.raw_code)


def score_responses(
    hub: str,
    responses: Sequence[Any],
    *,
    records: Sequence[ApiBenchRecord] | LoadResult | None = None,
    strict: bool = False,
    bootstrap: int = 1000,
    seed: int = 0,
    text_metrics: bool = True,
    matcher: ApiMatcher | None = None,
    data_dir: str | Path | None = None,
    progress: bool = False,
) -> ScoreReport:
    """Score responses (dicts or objects with `question_id` and `text`) against gold records.

    `records` defaults to the hub's eval records; any list of `ApiBenchRecord` works (e.g. a
    test split), joined on `record.question_id`. `strict=True` makes `ast_verdict` and the AST
    rates strict (`ast_accuracy_strict` is reported either way). `text_metrics=False` skips
    ROUGE-L and CodeBLEU (their rows and means are then None). A `matcher` can be passed to reuse
    a parsed database across calls.
    """
    hub = normalize_hub(hub)
    if records is None:
        records = load_records(hub, "eval", data_dir=data_dir).records
    elif isinstance(records, LoadResult):
        records = records.records
    by_id = {record.question_id: record for record in records}
    matcher = matcher or ApiMatcher.from_db(load_api_db(hub, data_dir=data_dir))
    items = [_coerce(r, where=f"#{i + 1}") for i, r in enumerate(responses)]
    unknown = sorted({r.question_id for r in items if r.question_id not in by_id})
    if unknown:
        shown = ", ".join(map(str, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
        raise DataError(
            f"{len(unknown)} response(s) have question_id(s) with no gold record: {shown} "
            f"({len(by_id)} records, ids {min(by_id, default=0)}..{max(by_id, default=0)}; "
            f"question_id is the 1-based line number of the {hub} eval file)"
        )
    iterator: Iterable[Response] = items
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(items, desc=f"score {hub}", unit="resp")
    rows = []
    for response in iterator:
        record = by_id[response.question_id]
        verdict = matcher.verdict(
            response.text, record.api_data.domain, record.api_data.api_call, strict=strict
        )
        code = response_code(response.text)
        gold = _gold_code(record)
        rl = cb = None
        if text_metrics and code is not None and gold is not None:
            rl, cb = rouge_l(code, gold), codebleu(code, gold)
        rows.append(
            ScoreRow(
                question_id=response.question_id,
                ast_verdict=verdict.verdict,
                matched_api=verdict.matched_api,
                strict_correct=verdict.strict_correct,
                rouge_l=rl,
                codebleu=cb,
                has_code=code is not None,
                reason=verdict.reason,
            )
        )
    return ScoreReport(hub=hub, rows=rows, summary=summarize(hub, rows, strict, bootstrap, seed))


def summarize(hub: str, rows: Sequence[ScoreRow], strict: bool, bootstrap: int, seed: int) -> dict[str, Any]:
    """The summary dict of a list of rows (see the module docstring for its keys)."""
    counts = Counter(row.ast_verdict for row in rows)

    def rate(flags: list[bool]) -> dict[str, Any]:
        return estimate([float(f) for f in flags], n=bootstrap, seed=seed)

    with_text = [row for row in rows if row.rouge_l is not None]
    return {
        "hub": hub,
        "mode": "strict" if strict else "gorilla",
        "n": len(rows),
        "ast_accuracy": rate([row.ast_verdict == "correct" for row in rows]),
        "hallucination_rate": rate([row.ast_verdict == "hallucination" for row in rows]),
        "error_rate": rate([row.ast_verdict == "error" for row in rows]),
        "ast_accuracy_strict": rate([bool(row.strict_correct) for row in rows]),
        "rouge_l": estimate([row.rouge_l for row in with_text], n=bootstrap, seed=seed),
        "codebleu": estimate([row.codebleu for row in with_text], n=bootstrap, seed=seed),
        "n_with_code_scores": len(with_text),
        "n_without_code": sum(not row.has_code for row in rows),
        "counts": {verdict: counts.get(verdict, 0) for verdict in ("correct", "hallucination", "error")},
        "bootstrap": {"resamples": bootstrap, "seed": seed, "confidence": 0.95},
    }

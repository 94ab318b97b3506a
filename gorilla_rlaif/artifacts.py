"""The rows of the files the toolkit writes, as pydantic models shared by writer and reader.

A stage writes `Model(...).model_dump(...)` and the next stage reads `Model.model_validate(row)`,
so the two cannot drift apart and a hand-edited or foreign file is refused with the file, the
line and the field (`parse_row`). The README's "Files this toolkit writes" table shows a literal
row of each.

    CandidateRow   feedback/candidates.jsonl   `gorilla-rlaif generate` -> `label`
    FeedbackRow    feedback/feedback.jsonl     `gorilla-rlaif label` -> `preferences`
    JudgeInfo      FeedbackRow.judge           what answered (backend, model, rubric, settings hash)
    SampleRow      RUN/samples.jsonl           `gorilla-bench eval` -> `report`
    ExecResult     RUN/executions.jsonl, exec  `gorilla_rlaif.harness.schema` (the sandbox's own)

Rows keep fields they do not know (`extra="allow"`): a candidate file may carry columns of its
own, and they travel into the feedback rows untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from gorilla_rlaif.config import describe_errors
from gorilla_rlaif.errors import DataError

R = TypeVar("R", bound=BaseModel)
Answer = Literal["yes", "no"]


def parse_row(model: type[R], row: dict[str, Any], path: str | Path, line: int) -> R:
    """`model.model_validate(row)`, a problem being a `DataError` naming the file, line and field."""
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        raise DataError(describe_errors(exc), path=path, line=line) from None


class Reference(BaseModel):
    """The gold API of the prompt a candidate answers (what the rules judge compares against)."""

    model_config = ConfigDict(extra="allow")

    api_call: str = Field(min_length=1)
    api_name: str | None = None
    domain: str | None = None
    framework: str | None = None
    answer_api_call: str | None = None


class CandidateRow(BaseModel):
    """One sampled completion of one prompt."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, description="unique in the file: PROMPT_ID#SAMPLE")
    prompt_id: str = Field(description="default: a hash of the prompt")
    prompt: str
    completion: str
    sample: int | None = Field(None, description="index among the prompt's samples")
    kept: int | None = Field(None, description="samples of the prompt kept after removing duplicates")
    hub: str | None = None
    reference: Reference | None = None

    @model_validator(mode="before")
    @classmethod
    def _ids(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("id"), int) and not isinstance(data.get("id"), bool):
            data["id"] = str(data["id"])
        if not data.get("prompt_id") and isinstance(data.get("prompt"), str):
            from gorilla_rlaif.provenance import stable_hash

            data["prompt_id"] = stable_hash(data["prompt"])
        elif data.get("prompt_id") is not None and not isinstance(data["prompt_id"], str):
            data["prompt_id"] = str(data["prompt_id"])
        return data


class JudgeInfo(BaseModel):
    """What answered a row: the backend's `settings()` (no secrets) and their hash."""

    model_config = ConfigDict(extra="allow")

    backend: str
    model: str | None = None
    mode: str | None = None
    rubric: str | None = None
    rubric_version: str | None = None
    rubric_hash: str | None = None
    settings_hash: str | None = None


class JudgeUsage(BaseModel):
    requests: int = 0
    cached_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class FeedbackRow(CandidateRow):
    """A candidate with the judge's answers: the score counts desirable answers (None when failed)."""

    status: Literal["ok", "failed"]
    error: str | None = None
    score: StrictInt | None = None
    max_score: StrictInt | None = None
    weighted_score: float | None = None
    answers: dict[str, Answer | None] = Field(min_length=1)
    p_yes: dict[str, float | None] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict)
    judge: JudgeInfo | None = None
    usage: JudgeUsage = Field(default_factory=JudgeUsage)
    cost_usd: float | None = None
    judged_at: str | None = None
    judge_notes: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackRow:
        top = self.max_score if self.max_score is not None else len(self.answers)
        if self.status == "ok":
            if self.score is None:
                raise ValueError("a row with status 'ok' needs an integer score")
            if not 0 <= self.score <= top:
                raise ValueError(f"score {self.score} is outside 0..{top}")
            if any(v is None for v in self.answers.values()):
                raise ValueError("a row with status 'ok' has unanswered questions")
        elif not self.error:
            raise ValueError("a failed row needs its 'error' reason")
        return self

    @property
    def top_score(self) -> int:
        return self.max_score if self.max_score is not None else len(self.answers)


class SampleRow(BaseModel):
    """One answer of a model to one APIBench prompt in one run, with its verdicts once scored."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="HUB/SPLIT/LINE#rRUN")
    run: int = Field(ge=0)
    hub: str
    question_id: int
    record_id: str
    seed: int
    prompt: str | list[dict[str, str]] = Field(description="as sent: text, or chat messages")
    response: str
    response_sha256: str
    parsed: dict[str, Any]
    tokens: int | None = None
    meta: dict[str, Any] | None = None
    score: dict[str, Any] | None = Field(None, description="AST verdict, matched API, ROUGE-L, CodeBLEU")
    exec: dict[str, Any] | None = Field(None, description="sandbox status of the code (None: not executed)")

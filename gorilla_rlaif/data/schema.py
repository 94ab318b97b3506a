"""Pydantic models for APIBench: an API documentation entry, a parsed output, a record."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Hub = Literal["huggingface", "tensorflowhub", "torchhub"]
HUBS: tuple[Hub, ...] = ("huggingface", "tensorflowhub", "torchhub")
FileSplit = Literal["train", "eval"]

# The five output sections of a Gorilla answer, in the order Gorilla writes them.
SECTIONS: tuple[str, ...] = ("domain", "api_call", "api_provider", "explanation", "code")


class ApiEntry(BaseModel):
    """One API of the documentation database (`*_api.jsonl`), also embedded as `api_data`.

    Only the fields the toolkit reads are typed strictly; the others vary between records
    (string, list, dict, null, "N/A") and are kept as they are.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    domain: str
    framework: str
    api_name: str
    api_call: str
    functionality: Any = None
    api_arguments: Any = None
    python_environment_requirements: Any = None
    example_code: Any = None
    performance: Any = None
    description: Any = None


class ParsedOutput(BaseModel):
    """The five sections of a Gorilla answer."""

    model_config = ConfigDict(frozen=True)

    domain: str
    api_call: str
    api_provider: str
    explanation: str
    code: str


class ApiBenchRecord(BaseModel):
    """One line of a train/eval file, with its `code` text parsed.

    `index` is the 0-based position among the file's records: Gorilla's evaluators join a
    response to its record by `question_id = index + 1`. `line` is the physical line number.
    A record whose text could not be fully parsed keeps `output=None` and says why in
    `parse_error`; it is never dropped, because dropping it would shift every question id after it.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="'{hub}/{split}/{question_id}', stable across runs")
    hub: Hub
    split: str
    index: int
    line: int
    source_file: str
    instruction: str | None
    input: str | None = None
    output: ParsedOutput | None = None
    parse_error: str | None = None
    extra_sections: dict[str, str] = Field(default_factory=dict)
    api_call: str
    provider: str
    api_data: ApiEntry
    raw_code: str

    @property
    def question_id(self) -> int:
        return self.index + 1

    @property
    def ok(self) -> bool:
        """True when the instruction and all five output sections were found."""
        return self.parse_error is None


class ParseFailure(BaseModel):
    """A record whose `code` text lacks markers we need; reported, never silently dropped."""

    source_file: str
    line: int
    question_id: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source_file}:{self.line} (question {self.question_id}): {self.reason}"

"""The judge interface: items in, judgments out, in batches. One small ABC, three backends.

Backends are listed in `BACKENDS` (module path + class name) and imported only when chosen, so
the rules judge never loads torch and the hf judge never loads the OpenAI SDK.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.judge.rubric import Rubric
from gorilla_rlaif.llm import LLMSettings

# backend name -> "module:Class"; the module is imported only when that backend is chosen.
BACKENDS: dict[str, str] = {
    "openai": "gorilla_rlaif.judge.openai_judge:OpenAIJudge",
    "hf": "gorilla_rlaif.judge.hf_judge:HFJudge",
    "rules": "gorilla_rlaif.judge.rules:RulesJudge",
}
DEFAULT_OPENAI_MODEL = "gpt-3.5-turbo"


def parse_judge_spec(spec: str) -> tuple[str, str | None]:
    """`openai:gpt-4o-mini` -> ("openai", "gpt-4o-mini"); `openai` -> ("openai", gpt-3.5-turbo);
    `hf:PATH` -> ("hf", PATH); `rules` -> ("rules", None)."""
    backend, _, arg = spec.partition(":")
    backend = backend.strip().lower()
    if backend not in BACKENDS:
        import difflib

        close = difflib.get_close_matches(backend, list(BACKENDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown judge {spec!r}{hint} (use openai:MODEL, hf:PATH or rules)")
    if backend == "openai":
        return backend, arg or DEFAULT_OPENAI_MODEL
    if backend == "hf":
        if not arg:
            raise ConfigError("the hf judge needs a model: --judge hf:PATH_OR_MODEL_ID")
        return backend, arg
    if arg:
        raise ConfigError(f"the rules judge takes no argument (got {spec!r})")
    return backend, None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenAIJudgeSettings(_Strict):
    """How the `openai:MODEL` judge asks (the model itself is named in `judge`, nowhere else)."""

    response_format: Literal["json_schema", "json_object"] = Field(
        "json_schema", description="rubric mode: structured outputs (json_schema) or plain JSON mode"
    )
    top_logprobs: int = Field(
        5, ge=0, le=20, description="per-question mode: alternatives to read P(yes) from"
    )
    llm: LLMSettings = Field(
        default_factory=LLMSettings,
        description="server, pace, retries, prices; `llm.model` follows `judge` (openai:MODEL)",
    )


class HFJudgeSettings(_Strict):
    """How the `hf:PATH` judge runs its forward passes."""

    batch_size: int = Field(8, ge=1, description="(candidate, question) prompts per forward pass")
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:N")


class RulesJudgeSettings(_Strict):
    """Where the `rules` judge finds the API database."""

    hub: str | None = Field(
        None, description="API database for rows without a `hub` field (default torchhub)"
    )
    data_dir: str | None = Field(None, description="local APIBench directory (else Hub, else bundled)")


class JudgeConfig(_Strict):
    """Which judge, and how it asks: `judge` picks the backend and its model, each backend reads
    only its own block (`openai`, `hf`, `rules`)."""

    judge: str = Field("rules", description="openai:MODEL | hf:PATH | rules")
    rubric: str | None = Field(
        None, description="built-in rubric name or YAML path (default: the paper's eight)"
    )
    mode: Literal["per-question", "rubric"] = Field(
        "per-question",
        description="per-question: one request per question with logprobs; rubric: one JSON answer for "
        "all (openai only)",
    )
    openai: OpenAIJudgeSettings = Field(default_factory=OpenAIJudgeSettings)
    hf: HFJudgeSettings = Field(default_factory=HFJudgeSettings)
    rules: RulesJudgeSettings = Field(default_factory=RulesJudgeSettings)

    @model_validator(mode="after")
    def _check(self) -> JudgeConfig:
        backend, arg = parse_judge_spec(self.judge)
        if backend != "openai" and self.mode == "rubric":
            raise ValueError(
                f"mode=rubric needs the openai judge: the {backend} judge answers one question at a time "
                "(use mode=per-question)"
            )
        if backend == "openai":
            llm = self.openai.llm
            if "model" in llm.model_fields_set and llm.model != arg:
                # The model is named once, in `judge`: a second place could only disagree with it.
                raise ValueError(
                    f"openai.llm.model={llm.model!r} disagrees with judge={self.judge!r}: name the model "
                    f"once, as judge=openai:{llm.model}"
                )
            if llm.model != arg:
                self.openai.llm = llm.model_copy(update={"model": arg})
        return self

    @property
    def backend(self) -> str:
        return parse_judge_spec(self.judge)[0]


@dataclass(frozen=True)
class JudgeItem:
    """One candidate to judge: the instruction it answers and the completion."""

    id: str
    instruction: str
    completion: str
    hub: str | None = None
    reference: dict[str, Any] | None = None  # the gold API (api_call, domain, ...) when known


_INSTRUCTION = re.compile(
    r"###\s*Instruction:\s*(.*?)(?:\n\s*###\s*Input:\s*(.*?))?\s*(?:\n\s*)?###\s*Output:\s*$", re.S
)


def instruction_from_prompt(prompt: str) -> str:
    """The request text of a project-format prompt (`###Instruction: ...\\n###Output:`); the
    whole prompt when it is in another format."""
    m = _INSTRUCTION.search(prompt.strip())
    if not m:
        return prompt.strip()
    instruction, inp = m.group(1).strip(), (m.group(2) or "").strip()
    return f"{instruction}\nInput: {inp}" if inp else instruction


@dataclass
class Judgment:
    """Answers to every question for one item, or a failure with its reason (never a default)."""

    answers: dict[str, str | None]
    p_yes: dict[str, float | None] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    cached_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    spent_usd: float = 0.0  # the part of cost_usd paid in this run (not served from the cache)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and all(a in ("yes", "no") for a in self.answers.values())

    @property
    def error(self) -> str | None:
        if self.ok:
            return None
        if self.errors:
            return "; ".join(f"{q}: {reason}" for q, reason in self.errors.items())
        missing = [q for q, a in self.answers.items() if a not in ("yes", "no")]
        return f"no answer for {', '.join(missing)}"


OnResult = Callable[[int, Judgment], None]


class Judge(ABC):
    """Answer the rubric's questions for a batch of items.

    `judge(items, on_result)` returns one Judgment per item, in order, and calls
    `on_result(index, judgment)` as soon as each is ready (so the caller can save it at once).
    """

    backend: str = ""

    def __init__(self, config: JudgeConfig, rubric: Rubric):
        self.config = config
        self.rubric = rubric

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything that determines the answers (no secrets): recorded in rows, meta and the card."""

    @abstractmethod
    def judge(self, items: Sequence[JudgeItem], on_result: OnResult | None = None) -> list[Judgment]: ...

    def totals(self) -> dict[str, Any]:
        """Usage and cost of this run (backends that spend money override this)."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def make_judge(config: JudgeConfig, rubric: Rubric, **kwargs: Any) -> Judge:
    """Instantiate the chosen backend (importing only its module)."""
    module_name, _, class_name = BACKENDS[config.backend].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(config, rubric, **kwargs)

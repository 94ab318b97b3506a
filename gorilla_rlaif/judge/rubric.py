"""The rubric: yes/no questions with their desirable answers, stored as versioned YAML data.

A rubric is data, not code, so researchers can change the questions without touching the
toolkit. Its identity is `name`, `version` and `hash` (SHA-256 of its canonical content): the
hash is part of every cache key and every feedback row, so answers to one wording are never
mistaken for answers to another.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gorilla_rlaif.config import describe_errors, read_yaml
from gorilla_rlaif.errors import ConfigError

DEFAULT_RUBRIC = "gorilla-apibench-v1"
Answer = Literal["yes", "no"]


class Question(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text: str = Field(min_length=5)
    desirable: Answer


class Rubric(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    description: str = ""
    system: str
    per_question_template: str
    rubric_template: str
    questions: tuple[Question, ...] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not re.fullmatch(r"\d+\.\d+\.\d+", value):
            raise ValueError(f"version must look like 1.0.0, got {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Rubric:
        ids = [q.id for q in self.questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate question id(s): {', '.join(dupes)}")
        for name, template, fields in (
            (
                "per_question_template",
                self.per_question_template,
                ("{instruction}", "{completion}", "{question}"),
            ),
            ("rubric_template", self.rubric_template, ("{instruction}", "{completion}", "{questions}")),
        ):
            missing = [f for f in fields if f not in template]
            if missing:
                raise ValueError(f"{name} must contain {', '.join(missing)}")
        return self

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(q.id for q in self.questions)

    @property
    def hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        import hashlib

        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @property
    def max_score(self) -> int:
        return len(self.questions)

    def describe(self) -> dict[str, str]:
        return {"rubric": self.name, "rubric_version": self.version, "rubric_hash": self.hash[:16]}

    def per_question_prompt(self, instruction: str, completion: str, question: Question) -> str:
        return self.per_question_template.format(
            instruction=instruction, completion=completion, question=question.text
        )

    def rubric_prompt(self, instruction: str, completion: str) -> str:
        questions = "\n".join(f"- {q.id}: {q.text}" for q in self.questions)
        return self.rubric_template.format(
            instruction=instruction, completion=completion, questions=questions
        )

    def score(self, answers: dict[str, str | None]) -> int | None:
        """Number of desirable answers; None unless every question was answered."""
        if any(answers.get(q.id) not in ("yes", "no") for q in self.questions):
            return None
        return sum(answers[q.id] == q.desirable for q in self.questions)

    def weighted_score(self, p_yes: dict[str, float | None]) -> float | None:
        """Sum over questions of P(desirable answer); None unless every probability is known."""
        total = 0.0
        for q in self.questions:
            p = p_yes.get(q.id)
            if p is None:
                return None
            total += p if q.desirable == "yes" else 1.0 - p
        return total

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100)


def builtin_rubrics() -> list[str]:
    folder = resources.files("gorilla_rlaif.judge") / "rubrics"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_rubric(source: str | Path | None = None) -> Rubric:
    """A built-in rubric by name (default: the paper's eight questions) or a YAML file by path."""
    source = str(source or DEFAULT_RUBRIC)
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        data, where = read_yaml(path, "rubric file"), str(path)
    else:
        names = builtin_rubrics()
        if source not in names:
            raise ConfigError(
                f"unknown rubric {source!r}; built-in: {', '.join(names)} (or pass a YAML path)"
            )
        text = (resources.files("gorilla_rlaif.judge") / "rubrics" / f"{source}.yaml").read_text(
            encoding="utf-8"
        )
        data, where = yaml.safe_load(text), f"built-in rubric {source}"
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: invalid rubric: {describe_errors(exc, prefix='')}") from None

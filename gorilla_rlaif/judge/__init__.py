"""AI feedback: a rubric of yes/no questions answered by a judge backend (openai, hf, rules).

The stage after `generate`: candidates in, feedback rows (answers, score, cost) out. See
`label.label` for the orchestrator and `base.BACKENDS` for the backends.
"""

from gorilla_rlaif.judge.base import (
    BACKENDS,
    Judge,
    JudgeConfig,
    JudgeItem,
    Judgment,
    instruction_from_prompt,
    make_judge,
    parse_judge_spec,
)
from gorilla_rlaif.judge.label import LabelConfig, label, read_candidates
from gorilla_rlaif.judge.rubric import DEFAULT_RUBRIC, Question, Rubric, builtin_rubrics, load_rubric

__all__ = [
    "BACKENDS",
    "DEFAULT_RUBRIC",
    "Judge",
    "JudgeConfig",
    "JudgeItem",
    "Judgment",
    "LabelConfig",
    "Question",
    "Rubric",
    "builtin_rubrics",
    "instruction_from_prompt",
    "label",
    "load_rubric",
    "make_judge",
    "parse_judge_spec",
    "read_candidates",
]

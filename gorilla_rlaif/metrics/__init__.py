"""Metrics: Gorilla's AST accuracy / hallucination, ROUGE-L, CodeBLEU, bootstrap intervals.

`ApiMatcher` (ast_match.py) gives Gorilla's verdict per response; `score_responses` (score.py)
scores a whole response set; `bootstrap_ci` (stats.py) is the interval every summary uses.
"""

from gorilla_rlaif.metrics.ast_match import (
    VERDICTS,
    ApiMatcher,
    AstVerdict,
    Match,
    Verdict,
    api_identity,
    extract_api_call,
)
from gorilla_rlaif.metrics.score import (
    Response,
    ScoreReport,
    ScoreRow,
    load_responses,
    score_responses,
    summarize,
)
from gorilla_rlaif.metrics.stats import bootstrap_ci, estimate
from gorilla_rlaif.metrics.text import codebleu, response_code, rouge_l

__all__ = [
    "VERDICTS",
    "ApiMatcher",
    "AstVerdict",
    "Match",
    "Response",
    "ScoreReport",
    "ScoreRow",
    "Verdict",
    "api_identity",
    "bootstrap_ci",
    "codebleu",
    "estimate",
    "extract_api_call",
    "load_responses",
    "response_code",
    "rouge_l",
    "score_responses",
    "summarize",
]

"""Metrics: Gorilla's AST accuracy / hallucination, ROUGE-L, CodeBLEU, bootstrap intervals."""

from gorilla_rlaif.metrics.ast_match import VERDICTS, ApiMatcher, AstVerdict, Match, Verdict, extract_api_call

__all__ = ["VERDICTS", "ApiMatcher", "AstVerdict", "Match", "Verdict", "extract_api_call"]

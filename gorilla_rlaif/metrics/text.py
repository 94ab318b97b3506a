"""ROUGE-L and CodeBLEU of a response's `code` section against the gold code.

Why these packages: `rouge-score` is Google's reference implementation of ROUGE (what
`evaluate.load("rouge")` wraps; `evaluate.load` itself fetches scripts and fails offline), and
`codebleu` (0.7.0) is the maintained PyPI port of the CodeXGLUE CodeBLEU that Gorilla vendors.
Both are scored per sample (sentence level) and averaged by `score.py`, so every response has
its own number in the per-sample rows.
"""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)

CODEBLEU_WEIGHTS = (0.25, 0.25, 0.25, 0.25)


def response_code(text: str) -> str | None:
    """The `code` section of a response, in any of APIBench's formats; None when there is none."""
    from gorilla_rlaif.data import parse_code_text, parse_completion

    code = parse_completion(text).get("code")
    if code is None and "###Instruction" in text:
        parsed = parse_code_text(text)  # also reads TorchHub's dict-like output
        code = parsed.output.code if parsed.output is not None else None
    if code is None or not code.strip():
        return None
    return code.strip()


@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score.rouge_scorer import RougeScorer

    logging.getLogger("absl").setLevel(logging.WARNING)  # "Using default tokenizer." per scorer
    return RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (rouge-score, Porter stemming on)."""
    return float(_rouge_scorer().score(reference, prediction)["rougeL"].fmeasure)


def codebleu(prediction: str, reference: str) -> float:
    """Sentence-level CodeBLEU (lang python, default weights 0.25 each)."""
    from codebleu import calc_codebleu

    # codebleu logs a warning per sample when a snippet has no data flow; that is a score of 0
    # for that component, not a problem worth a line per response.
    logging.getLogger("codebleu").setLevel(logging.ERROR)
    return float(
        calc_codebleu([reference], [prediction], lang="python", weights=CODEBLEU_WEIGHTS)["codebleu"]
    )

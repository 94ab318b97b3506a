"""Throughput of the metrics over the 911 HuggingFace eval gold outputs (responses/s).

Run: .venv/bin/python benchmarks/bench_metrics.py
Prints the time to parse the API database once, then responses/s for Gorilla AST verdicts,
strict verdicts, ROUGE-L and CodeBLEU, and the AST figures of the gold outputs.
"""

from __future__ import annotations

import logging
import os
import time

from gorilla_rlaif.data import load_api_db, load_records
from gorilla_rlaif.metrics import ApiMatcher, codebleu, response_code, rouge_l


def timed(label: str, n: int, fn) -> None:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<28} {n:5d} in {seconds:7.2f} s = {n / seconds:9.1f} responses/s")
    return result


def main() -> None:
    logging.disable(logging.WARNING)
    records = load_records("huggingface", "eval").records
    texts = [r.raw_code for r in records]
    start = time.perf_counter()
    matcher = ApiMatcher.from_db(load_api_db("huggingface"))
    print(f"load + parse API database     {len(matcher):5d} entries in {time.perf_counter() - start:.2f} s")
    verdicts = timed(
        "AST (Gorilla rules)",
        len(texts),
        lambda: [matcher.verdict(r.raw_code, r.api_data.domain) for r in records],
    )
    timed(
        "AST strict",
        len(texts),
        lambda: [matcher.verdict(r.raw_code, r.api_data.domain, r.api_data.api_call, True) for r in records],
    )
    pairs = [(code, code) for code in (response_code(t) for t in texts) if code]
    timed("ROUGE-L", len(pairs), lambda: [rouge_l(a, b) for a, b in pairs])
    timed("CodeBLEU", len(pairs), lambda: [codebleu(a, b) for a, b in pairs])
    n = len(verdicts)
    correct = sum(v.verdict == "correct" for v in verdicts)
    hallucination = sum(v.verdict == "hallucination" for v in verdicts)
    print(f"gold AST accuracy {correct / n:.4f}, hallucination {hallucination / n:.4f} (n={n})")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

"""Execution-grounded GRPO reward: does the completion's code run, and does it call the right API?

Score per completion = `exec_weight` x [sandbox status is `ok`] + `ast_weight` x [Gorilla AST verdict
is `correct` against the prompt's gold record]. Both verdicts come from the same code the benchmark
uses (`gorilla_rlaif.harness.run_snippets`, `gorilla_rlaif.metrics.ApiMatcher`), so what GRPO
optimises is exactly what `gorilla-bench eval` reports. Completions are untrusted model output: they
only ever run inside the sandbox. A completion without a `code` section scores 0 on execution (there
is nothing to run), and a `hub_error` (a model id missing from the offline cache) counts as not
running, as in the paper's executability rate.

The gold record comes from the dataset's `id` column (`hub/split/line`, what the trainers' APIBench
prompt loader writes); a row without one gets no AST term (only execution).
"""

from __future__ import annotations

import logging
from typing import Any

from gorilla_rlaif.train.config import ExecutionSpec
from gorilla_rlaif.train.reward_base import RewardFunction

log = logging.getLogger(__name__)


class ExecutionReward(RewardFunction):
    """Sandbox verdict + AST match, a float in [0, exec_weight + ast_weight] per completion."""

    __name__ = "execution"

    def __init__(self, spec: ExecutionSpec):
        self.spec = spec
        self.sandbox = spec.sandbox
        self._matchers: dict[str, Any] = {}
        self._records: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = 0

    def _matcher(self, hub: str):
        if hub not in self._matchers:
            from gorilla_rlaif.data import load_api_db
            from gorilla_rlaif.metrics import ApiMatcher

            self._matchers[hub] = ApiMatcher.from_db(load_api_db(hub))
        return self._matchers[hub]

    def _record(self, record_id: str):
        """The APIBench record behind a dataset row id `hub/split/line` (loaded once per file)."""
        hub, split, _ = record_id.split("/")
        key = (hub, split)
        if key not in self._records:
            from gorilla_rlaif.data import load_records

            self._records[key] = {r.id: r for r in load_records(hub, split).records}
        return self._records[key].get(record_id)

    def __call__(self, prompts: list[str], completions: list[str], **columns: Any) -> list[float | None]:
        from gorilla_rlaif.harness import Snippet, Status, run_snippets
        from gorilla_rlaif.metrics.text import response_code

        self.calls += 1
        ids = columns.get("id") or [None] * len(completions)
        codes = [response_code(c) for c in completions]
        snippets = [
            Snippet(id=f"c{self.calls}-{i}", code=code) for i, code in enumerate(codes) if code is not None
        ]
        results = {r.id: r for r in run_snippets(snippets, self.sandbox, progress=False)} if snippets else {}
        scores: list[float | None] = []
        for i, (completion, code, row_id) in enumerate(zip(completions, codes, ids, strict=True)):
            ran = code is not None and results[f"c{self.calls}-{i}"].status == Status.ok
            score = self.spec.exec_weight * float(ran)
            record = self._record(row_id) if row_id else None
            if record is not None and record.api_data is not None:
                verdict = self._matcher(record.hub).verdict(completion, record.api_data.domain)
                score += self.spec.ast_weight * float(verdict.verdict == "correct")
            scores.append(score)
        return scores

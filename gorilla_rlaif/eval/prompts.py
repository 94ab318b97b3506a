"""The prompts of an eval: APIBench records of each hub's eval file or held-out test split.

Records are kept with their Gorilla `question_id` (index + 1 in the eval file), so scores join
the reference exactly as Gorilla's evaluators do. Records without an instruction (a few APIBench
answers are free text we cannot parse a question from) cannot be asked: they are counted and
listed in the results, never silently dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gorilla_rlaif.data import ApiBenchRecord, build_prompt
from gorilla_rlaif.eval.config import EvalConfig

log = logging.getLogger(__name__)


@dataclass
class EvalPrompt:
    """One question: what the model sees, and the record it is scored against."""

    hub: str
    record: ApiBenchRecord

    @property
    def question_id(self) -> int:
        return self.record.question_id

    @property
    def instruction(self) -> str:
        return self.record.instruction or ""

    @property
    def text(self) -> str:
        """Gorilla's own prompt layout (what fine-tuned models were trained on)."""
        return build_prompt(self.record.instruction or "", self.record.input)


@dataclass
class HubPrompts:
    hub: str
    prompts: list[EvalPrompt]
    records: list[ApiBenchRecord]
    files: dict[str, Any]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    split_info: dict[str, Any] = field(default_factory=dict)


def load_eval_prompts(config: EvalConfig) -> dict[str, HubPrompts]:
    """Prompts per hub for `config.split`, in file order, the first `config.limit` of each."""
    from gorilla_rlaif.data import SplitConfig, load_records, make_splits

    out: dict[str, HubPrompts] = {}
    for hub in config.hubs:
        if config.split == "eval":
            result = load_records(hub, "eval", data_dir=config.data_dir)
            records, files = result.records, {"eval": result.file}
            split_info: dict[str, Any] = {"split": "eval", "source": "whole eval file"}
        else:
            splits = make_splits(SplitConfig(hub=hub, seed=config.split_seed, data_dir=config.data_dir))
            records, files = splits["test"], splits.manifest.get("inputs", {})
            split_info = {
                "split": "test",
                "test_mode": splits.manifest.get("test_mode"),
                "split_hash": splits.manifest.get("split_hash"),
                "split_seed": config.split_seed,
            }
        prompts: list[EvalPrompt] = []
        skipped: list[dict[str, Any]] = []
        for record in records:
            if not record.instruction:
                skipped.append({"question_id": record.question_id, "reason": record.parse_error})
                continue
            prompts.append(EvalPrompt(hub=hub, record=record))
        if skipped:
            log.warning(
                "%s: %d record(s) without an instruction cannot be asked (listed in results)",
                hub,
                len(skipped),
            )
        if config.limit:
            prompts = prompts[: config.limit]
        out[hub] = HubPrompts(
            hub=hub,
            prompts=prompts,
            records=[p.record for p in prompts],
            files=files,
            skipped=skipped,
            split_info=split_info,
        )
    return out

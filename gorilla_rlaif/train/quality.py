"""A quick look at what a trained policy writes: greedy answers on held-out prompts, scored cheaply.

Not the benchmark (`gorilla-bench eval` is): a few dozen test prompts after training, so every
run's record says whether the model produces well-formed Gorilla answers at all. Reported:
`well_formed_rate` (all five sections present), `code_parses_rate` (the code section is valid
Python), `api_call_exact_rate` (the api_call equals the gold one, whitespace-insensitive).
"""

from __future__ import annotations

import ast
import logging
import re
from typing import Any

log = logging.getLogger(__name__)


def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    *,
    max_new_tokens: int,
    batch_size: int = 16,
) -> list[str]:
    """Greedy completions (decoded, special tokens dropped), batched with left padding."""
    import torch

    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    was_training = model.training
    model.eval()
    out: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(prompts[start : start + batch_size], return_tensors="pt", padding=True)
            batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                ids = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            out.extend(
                tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
            )
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out


def completion_logprobs(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    completions: list[str],
    *,
    batch_size: int = 8,
    max_length: int = 512,
) -> list[float]:
    """Sum of log-probabilities of each completion (+ EOS) given its prompt, as DPO scores them.

    Prompt and completion are tokenized separately and concatenated (TRL's DPO does the same), so
    the boundary between them is exactly where the completion's tokens start. Over `max_length`,
    the prompt loses its start first, then the completion its end.
    """
    import torch

    device = next(model.parameters()).device
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    out: list[float] = []
    try:
        for start in range(0, len(prompts), batch_size):
            pairs = [
                _fit(
                    tokenizer(p, add_special_tokens=False)["input_ids"],
                    tokenizer(c, add_special_tokens=False)["input_ids"] + eos,
                    max_length,
                )
                for p, c in zip(
                    prompts[start : start + batch_size], completions[start : start + batch_size], strict=True
                )
            ]
            width = max(len(p) + len(c) for p, c in pairs)
            ids = torch.full((len(pairs), width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            target = torch.zeros_like(ids, dtype=torch.bool)
            for i, (p, c) in enumerate(pairs):
                ids[i, : len(p) + len(c)] = torch.tensor(p + c)
                mask[i, : len(p) + len(c)] = 1
                target[i, len(p) : len(p) + len(c)] = True
            with torch.inference_mode():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].to(device).unsqueeze(-1))
            out.extend((logp.squeeze(-1) * target[:, 1:].to(device)).sum(-1).cpu().tolist())
    finally:
        model.train(was_training)
    return out


def _fit(prompt: list[int], completion: list[int], max_length: int) -> tuple[list[int], list[int]]:
    completion = completion[:max_length]
    keep = max_length - len(completion)
    return (prompt[-keep:] if keep > 0 else []), completion


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).replace('"', "'")


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def answer_report(records: list[Any], completions: list[str]) -> dict[str, Any]:
    """Rates over `records` (ApiBenchRecord with a parsed gold output) and their completions."""
    from gorilla_rlaif.data import SECTIONS, parse_completion

    n = len(records)
    if n == 0:
        return {"n": 0}
    well_formed = parses = exact = 0
    for record, completion in zip(records, completions, strict=True):
        found = parse_completion(completion)
        well_formed += all(found.get(s) for s in SECTIONS)
        parses += bool(found.get("code")) and _parses(found["code"])
        exact += bool(found.get("api_call")) and _norm(found["api_call"]) == _norm(record.output.api_call)
    return {
        "n": n,
        "well_formed_rate": well_formed / n,
        "code_parses_rate": parses / n,
        "api_call_exact_rate": exact / n,
    }


def policy_report(model: Any, tokenizer: Any, records: list[Any], *, max_new_tokens: int) -> dict[str, Any]:
    """Generate for `records` and score; includes three sample answers for the run record."""
    from gorilla_rlaif.data import build_prompt

    if not records:
        return {"n": 0}
    prompts = [build_prompt(r.instruction, r.input) for r in records]
    completions = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens)
    report = answer_report(records, completions)
    report["samples"] = [
        {"id": r.id, "completion": c} for r, c in list(zip(records, completions, strict=True))[:3]
    ]
    return report

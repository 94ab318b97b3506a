"""Bootstrap intervals for means of per-sample scores (rates are means of 0/1), the mean and sd over
seeds, and paired comparisons of two models on the same questions over seeds."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def bootstrap_ci(
    values: Sequence[float], *, n: int = 1000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval `(low, high)` of the mean of `values`.

    Resamples `values` with replacement `n` times (numpy, seeded: same input, same interval).
    An empty input gives `(nan, nan)`; `n=0` gives the degenerate interval `(mean, mean)`.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return float("nan"), float("nan")
    if n <= 0:
        return float(data.mean()), float(data.mean())
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n, data.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def estimate(values: Sequence[float], *, n: int = 1000, seed: int = 0) -> dict[str, Any]:
    """`{"value": mean, "ci95": [low, high]}`, the shape every summary uses (None when empty, and
    no interval when `n` is 0: zero resamples make no interval, not a zero-width one)."""
    if len(values) == 0:
        return {"value": None, "ci95": [None, None]}
    if n <= 0:
        return {"value": float(np.mean(values)), "ci95": [None, None]}
    low, high = bootstrap_ci(values, n=n, seed=seed)
    return {"value": float(np.mean(values)), "ci95": [low, high]}


def mean_sd(values: Sequence[float | None]) -> dict[str, Any]:
    """`{"mean", "sd", "n", "values"}` over seeds (sample sd, ddof=1; 0.0 for one value)."""
    kept = [float(v) for v in values if v is not None]
    if not kept:
        return {"mean": None, "sd": None, "n": 0, "values": list(values)}
    sd = float(np.std(kept, ddof=1)) if len(kept) > 1 else 0.0
    return {"mean": float(np.mean(kept)), "sd": sd, "n": len(kept), "values": list(values)}


def paired_comparison(
    baseline: Sequence[Mapping[Any, float | None]],
    candidate: Sequence[Mapping[Any, float | None]],
    *,
    resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Paired difference `candidate - baseline` of a per-question metric, over seeds and questions.

    `baseline[s]` and `candidate[s]` map question id -> value for seed `s` (the candidate of seed
    `s` is paired with the baseline of the same seed, e.g. PPO from that seed's SFT model); a
    question is used when both models have a value for it in at least one seed (None = not
    measured, e.g. ROUGE-L of an answer without code). The statistic is the mean over seeds and
    questions of the per-question difference.

    The interval and p-value come from one two-level bootstrap (seeds resampled, then questions
    resampled, the same questions for every seed so the pairing holds): it carries both sources
    of noise, the questions (which a bootstrap over questions alone already had) and the
    training run (which a single run cannot show, and which is what made one run's table flip
    between two clones). With three seeds the seed level is coarse and the interval wide, which
    is the honest answer. p-value: the share of centred bootstrap statistics at least as far
    from 0 as the observed one (two-sided; floor 1/(resamples+1)). Why not scipy: this is one
    vectorised numpy expression, and the two-level resampling is not in scipy.stats.bootstrap.
    """
    if len(baseline) != len(candidate) or not baseline:
        raise ValueError(
            f"need the same number (>= 1) of seeds on both sides, got {len(baseline)} and {len(candidate)}"
        )
    questions = sorted(
        {q for b, c in zip(baseline, candidate, strict=True) for q in b if q in c}, key=lambda q: str(q)
    )
    diffs = np.full((len(baseline), len(questions)), np.nan)
    for s, (b, c) in enumerate(zip(baseline, candidate, strict=True)):
        for j, q in enumerate(questions):
            x, y = b.get(q), c.get(q)
            if x is not None and y is not None:
                diffs[s, j] = float(y) - float(x)
    diffs = diffs[:, ~np.all(np.isnan(diffs), axis=0)]
    diffs = diffs[~np.all(np.isnan(diffs), axis=1)]
    n_seeds, n_questions = diffs.shape if diffs.size else (0, 0)
    out: dict[str, Any] = {"n_seeds": n_seeds, "n_questions": n_questions, "resamples": resamples}
    if not n_questions:
        return {**out, "diff": None, "ci95": None, "p_value": None, "per_seed": []}
    observed = float(np.nanmean(diffs))
    per_question = np.nanmean(diffs, axis=0)
    out.update(
        diff=observed,
        per_seed=[float(v) for v in np.nanmean(diffs, axis=1)],
        better=int((per_question > 0).sum()),
        worse=int((per_question < 0).sum()),
        same=int((per_question == 0).sum()),
    )
    if resamples <= 0 or n_questions < 2:
        return {**out, "ci95": None, "p_value": None}
    rng = np.random.default_rng(seed)
    stats = np.empty(resamples)
    chunk = max(1, 2_000_000 // (n_seeds * n_questions))  # bounded memory for big runs
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        s_idx = rng.integers(0, n_seeds, size=(size, n_seeds))
        q_idx = rng.integers(0, n_questions, size=(size, n_questions))
        picked = diffs[s_idx[:, :, None], q_idx[:, None, :]]  # (size, seeds, questions)
        with warnings.catch_warnings():  # a resample of only unmeasured cells is NaN, dropped below
            warnings.simplefilter("ignore", RuntimeWarning)
            stats[start : start + size] = np.nanmean(picked.reshape(size, -1), axis=1)
    stats = stats[~np.isnan(stats)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    extreme = int(np.sum(np.abs(stats - observed) >= abs(observed) - 1e-12))
    p_value = max(extreme / len(stats), 1 / (len(stats) + 1))
    return {**out, "ci95": [float(low), float(high)], "p_value": float(min(1.0, p_value))}


def verdict_text(comparison: Mapping[str, Any], higher_is_better: bool, alpha: float = 0.05) -> str:
    """'better' / 'worse' / 'no significant difference' for a `paired_comparison` result."""
    ci, diff = comparison.get("ci95"), comparison.get("diff")
    if diff is None or ci is None or comparison.get("p_value") is None:
        return "not tested"
    if comparison["p_value"] >= alpha or ci[0] <= 0 <= ci[1]:
        return "no significant difference"
    return "better" if (diff > 0) == higher_is_better else "worse"

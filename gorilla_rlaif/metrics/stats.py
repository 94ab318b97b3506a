"""Bootstrap confidence intervals for the mean of per-sample scores (rates are means of 0/1)."""

from __future__ import annotations

from collections.abc import Sequence
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

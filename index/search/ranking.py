"""Re-ranking of similar stories: recency decay and diversity (MMR). Pure functions on arrays."""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np


def days_between(a: str | None, b: str | None) -> float | None:
    """Absolute distance in days between two ISO timestamps; None when either is unknown."""
    if not a or not b:
        return None
    delta = datetime.fromisoformat(a.replace("Z", "+00:00")) - datetime.fromisoformat(b.replace("Z", "+00:00"))
    return abs(delta.total_seconds()) / 86_400


def timestamp(value: str | None) -> float | None:
    """Seconds since the epoch of an ISO timestamp (stored ones are UTC), or None when unknown."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def days_apart(a: float | None, b: float | None) -> float | None:
    """`days_between` of two `timestamp`s."""
    return None if a is None or b is None else abs(a - b) / 86_400


def recency_factor(days_apart: float | None, half_life_days: float) -> float:
    """0.5 ** (days apart / half-life): 1 for the same moment, 0.5 one half-life away.

    No decay when the half-life is 0 (off) or a date is unknown.
    """
    if not half_life_days or days_apart is None:
        return 1.0
    return float(0.5 ** (days_apart / half_life_days))


def mmr(relevance: np.ndarray, vectors: np.ndarray, k: int, diversity: float) -> list[int]:
    """Maximal marginal relevance: indices of `k` items, each chosen for relevance minus its
    similarity to those already chosen, weighted by `diversity` (0: relevance only, 1: novelty only).

    Args:
        relevance: one score per candidate (higher is better).
        vectors: unit vectors of the candidates, one row each.
    """
    chosen: list[int] = []
    if not len(relevance):
        return chosen
    similarity = vectors @ vectors.T
    remaining = list(range(len(relevance)))
    while remaining and len(chosen) < k:
        if chosen:
            redundancy = similarity[np.ix_(remaining, chosen)].max(axis=1)
        else:
            redundancy = np.zeros(len(remaining))
        gain = (1 - diversity) * relevance[remaining] - diversity * redundancy
        best = remaining[int(np.argmax(gain))]
        chosen.append(best)
        remaining.remove(best)
    return chosen

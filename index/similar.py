"""Turning raw nearest neighbours into the answer of a similar-stories query. Pure functions."""
from __future__ import annotations

from typing import Iterable

# First rule, on e5-small-q4 cosine scores (bench/score_distribution.py on the bundled sample):
# identical bodies score >= 0.995; nearest neighbours with different bodies have a median of 0.92;
# above 0.98 they are mostly the same text re-headlined or re-typed, while 0.95-0.98 holds recurring
# templates (weather, match results) that are not the same story. Text overlap refines this later.
NEAR_DUPLICATE_SCORE = 0.98


def relation(score: float, same_text: bool) -> str:
    """`duplicate` (same embedded text), `near_duplicate` or `related` for a neighbour at cosine `score`."""
    if same_text:
        return "duplicate"
    if score >= NEAR_DUPLICATE_SCORE:
        return "near_duplicate"
    return "related"


def top_neighbours(hits: Iterable[tuple[int, float]], exclude: set[int], k: int) -> list[tuple[int, float]]:
    """The first `k` hits, best first, leaving out excluded keys (the article itself)."""
    ranked = sorted((h for h in hits if h[0] not in exclude), key=lambda h: -h[1])
    return ranked[:k]

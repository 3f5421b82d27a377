"""Turning raw nearest neighbours into the answer of a similar-stories query. Pure functions."""
from __future__ import annotations

from typing import Iterable

# First rule, on e5-small-q4 cosine scores; the near-duplicate work refines it with text overlap.
# Measured on the bundled sample (bench/relations.py): republished copies score >= 0.97.
DUPLICATE_SCORE = 0.985
NEAR_DUPLICATE_SCORE = 0.95


def relation(score: float, same_text: bool) -> str:
    """`duplicate`, `near_duplicate` or `related` for a neighbour at cosine `score`."""
    if same_text or score >= DUPLICATE_SCORE:
        return "duplicate"
    if score >= NEAR_DUPLICATE_SCORE:
        return "near_duplicate"
    return "related"


def top_neighbours(hits: Iterable[tuple[int, float]], exclude: set[int], k: int) -> list[tuple[int, float]]:
    """The first `k` hits, best first, leaving out excluded keys (the article itself)."""
    ranked = sorted((h for h in hits if h[0] not in exclude), key=lambda h: -h[1])
    return ranked[:k]

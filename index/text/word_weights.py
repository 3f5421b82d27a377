"""Word sets as sorted integer arrays, and the weight one set holds of another for many sets at once:
the word evidence of a query's candidates in a few array passes instead of a Python loop each.

A word's id is a 64-bit hash of its UTF-8 bytes (`stable_ids`), the same in every process, so ids
are kept with an index version (`article_words`). Two words share an id with probability ~2^-64 per
pair: far below any evidence. Only the first ID_BYTES bytes count (32 Arabic letters: no word is longer).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

NO_IDS = np.empty(0, dtype=np.int64)
ID_BYTES = 64
_LANES = ID_BYTES // 8
_OFFSET, _PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)  # FNV-1a's, a lane at a time


def stable_ids(words: Sequence[str]) -> np.ndarray:
    """The id of each word, in order (see the module's docstring)."""
    if not len(words):
        return NO_IDS
    lanes = np.array([w.encode("utf-8") for w in words], dtype=f"S{ID_BYTES}").view(np.uint64)
    lanes = lanes.reshape(len(words), _LANES)
    h = np.full(len(words), _OFFSET, dtype=np.uint64)
    for lane in range(_LANES):  # wraps modulo 2^64, as the hash wants
        h = (h ^ lanes[:, lane]) * _PRIME
    h ^= h >> np.uint64(31)
    return h.view(np.int64)


def word_ids(words: Iterable[str]) -> np.ndarray:
    """The sorted unique ids of some words."""
    ids = stable_ids(list(words))
    return np.unique(ids) if len(ids) else NO_IDS


@dataclass(frozen=True)
class WeightedWords:
    """Words with a weight each (their idf), sorted by id, and the sum of the weights."""

    ids: np.ndarray
    weights: np.ndarray
    total: float

    @classmethod
    def of(cls, weights: dict[str, float], total: float | None = None) -> WeightedWords:
        """From {word: weight}; `total` defaults to the sum of the weights (in sorted-word order, as
        `lexical.LexicalQuery.shared` sums them)."""
        ids = stable_ids(list(weights))
        values = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
        order = np.argsort(ids)
        if total is None:
            total = sum(weights[w] for w in sorted(weights))
        return cls(ids[order], values[order], float(total))


def segments(sets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Several arrays as one, with the index of the array each element came from."""
    if not sets:
        return NO_IDS, NO_IDS
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    flat = np.concatenate(sets) if lengths.sum() else NO_IDS
    return flat, np.repeat(np.arange(len(sets)), lengths)


def held_shares(weighted: WeightedWords, sets: Sequence[np.ndarray]) -> np.ndarray:
    """For each id set, the share of `weighted`'s total weight that its words hold, in [0, 1]."""
    if not weighted.total or not len(weighted.ids):
        return np.zeros(len(sets))
    flat, owner = segments(sets)
    position = np.minimum(np.searchsorted(weighted.ids, flat), len(weighted.ids) - 1)
    held = np.where(weighted.ids[position] == flat, weighted.weights[position], 0.0)
    return np.bincount(owner, weights=held, minlength=len(sets)) / weighted.total


def shares_held_of(each: Sequence[WeightedWords], ids: np.ndarray) -> np.ndarray:
    """For each weighted set, the share of its own total weight whose words are among `ids` (sorted)."""
    if not len(each):
        return np.zeros(0)
    flat, owner = segments([w.ids for w in each])
    weights = np.concatenate([w.weights for w in each]) if len(flat) else np.zeros(0)
    totals = np.array([w.total for w in each])
    if len(ids) and len(flat):
        position = np.minimum(np.searchsorted(ids, flat), len(ids) - 1)
        held = np.where(ids[position] == flat, weights, 0.0)
    else:
        held = np.zeros(len(flat))
    sums = np.bincount(owner, weights=held, minlength=len(each))
    return np.divide(sums, totals, out=np.zeros(len(each)), where=totals > 0)

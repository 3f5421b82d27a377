"""Text reuse over a whole corpus at once: its boilerplate shingles, and which of many article pairs
are copies (`duplicate` or `near_duplicate`, exactly as `relations.relate` decides), by array passes
over every article's shingles rather than one comparison a pair.

Shared shingles are counted by a join: the shingles that several articles hold (at most
`min_documents - 1` of them once the common ones are left out) are sorted with their articles, and
each run of one value pairs its articles. Nothing is held per article but a few numbers and a slice
of flat arrays.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..text.overlap import EMPTY, Fingerprint, without
from .relations import NEAR_DUPLICATE_OVERLAP

CHUNK = 1 << 24  # values a pass over the flat arrays takes at a time (bounds its temporaries)


def _flat(parts: list[np.ndarray], lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    values = np.concatenate(parts) if parts else EMPTY
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return values, offsets


@dataclass
class CorpusShingles:
    """Every article's fingerprint as flat arrays, in the order added (an article's position)."""

    body: list[np.ndarray] = field(default_factory=list)
    headline: list[np.ndarray] = field(default_factory=list)
    union: list[np.ndarray] = field(default_factory=list)
    body_lengths: list[int] = field(default_factory=list)
    headline_lengths: list[int] = field(default_factory=list)
    union_lengths: list[int] = field(default_factory=list)
    body_hashes: list[str | None] = field(default_factory=list)
    headline_hashes: list[str] = field(default_factory=list)

    def add(self, fingerprints: Sequence[Fingerprint]) -> None:
        """Add a batch of articles' fingerprints (one flat array per batch and kind)."""
        body = [fp.body_shingles for fp in fingerprints]
        headline = [fp.headline_shingles for fp in fingerprints]
        # Document frequency counts an article once for a shingle in both its headline and body.
        union = [np.union1d(b, h) if len(h) else b for b, h in zip(body, headline)]
        for kept, lengths, arrays in ((self.body, self.body_lengths, body), (self.headline, self.headline_lengths, headline),
                                      (self.union, self.union_lengths, union)):
            kept.append(np.concatenate([EMPTY, *arrays]))
            lengths.extend(len(a) for a in arrays)
        self.body_hashes.extend(fp.body_hash for fp in fingerprints)
        self.headline_hashes.extend(fp.headline_hash for fp in fingerprints)

    def __len__(self) -> int:
        return len(self.body_lengths)


def repeated(values: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """The values found more than once in a sorted array, and how many times each."""
    found_values, found_counts = [EMPTY], [np.empty(0, dtype=np.int64)]
    start, n = 0, len(values)
    while start < n:
        stop = min(n, start + chunk)
        if stop < n:  # a run is never split between two parts
            stop = int(np.searchsorted(values, values[stop - 1], side="right"))
        part = values[start:stop]
        starts = np.flatnonzero(np.concatenate(([True], part[1:] != part[:-1])))
        counts = np.diff(np.append(starts, len(part)))
        keep = counts >= 2
        found_values.append(part[starts[keep]])
        found_counts.append(counts[keep])
        start = stop
    return np.concatenate(found_values), np.concatenate(found_counts)


def member(values: np.ndarray, sorted_set: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """For each of `values`, whether it is in `sorted_set` (a bool array)."""
    out = np.zeros(len(values), dtype=bool)
    if not len(sorted_set):
        return out
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        at = np.minimum(np.searchsorted(sorted_set, part), len(sorted_set) - 1)
        out[start : start + len(part)] = sorted_set[at] == part
    return out


def owners(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The article each position of a flat array belongs to."""
    return np.searchsorted(offsets, positions, side="right") - 1


class CopyFinder:
    """Which pairs of a corpus's articles are copies, its common (boilerplate) shingles left out.

    Args:
        corpus: the articles' fingerprints (`CorpusShingles`).
        min_documents: a shingle this many articles hold is common (see `overlap.common_shingles`).
    """

    def __init__(self, corpus: CorpusShingles, min_documents: int) -> None:
        n = self.size = len(corpus)
        union, _ = _flat(corpus.union, corpus.union_lengths)
        corpus.union.clear()
        union.sort()
        values, counts = repeated(union)
        del union
        self.common = values[counts >= min_documents]  # sorted, as `common_shingles` returns them
        shared = values[counts < min_documents]  # held by several articles: what copies share
        del values, counts
        self.body, self.body_offsets = _flat(corpus.body, corpus.body_lengths)
        self.headline, self.headline_offsets = _flat(corpus.headline, corpus.headline_lengths)
        corpus.body.clear()
        corpus.headline.clear()
        body_ids = {h: i for i, h in enumerate(dict.fromkeys(h for h in corpus.body_hashes if h))}
        self.body_hash = np.array([body_ids[h] if h else -1 for h in corpus.body_hashes], dtype=np.int64)
        headline_ids = {h: i for i, h in enumerate(dict.fromkeys(corpus.headline_hashes))}
        self.headline_hash = np.array([headline_ids[h] for h in corpus.headline_hashes], dtype=np.int64)
        # Each article's body shingles once the common ones are left out: how many, and the pairs of
        # articles sharing some, with how many (codes: smaller position * n + larger).
        self.clean_body = np.diff(self.body_offsets) - np.bincount(
            owners(np.flatnonzero(member(self.body, self.common)), self.body_offsets), minlength=n)
        at = np.flatnonzero(member(self.body, shared))
        values, articles = self.body[at], owners(at, self.body_offsets)
        order = np.lexsort((articles, values))
        values, articles = values[order], articles[order]
        codes = [np.empty(0, dtype=np.int64)]
        for gap in range(1, min_documents):
            same = np.flatnonzero(values[gap:] == values[:-gap])
            if not len(same):
                break
            a, b = articles[same], articles[same + gap]
            codes.append(np.minimum(a, b) * n + np.maximum(a, b))
        self.pair_codes, self.pair_shared = np.unique(np.concatenate(codes), return_counts=True)

    def copies(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """For each pair (first[i], second[i]) of positions, whether the second is a copy of the first
        (`relate(first, second).relation in DUPLICATES`, both without the common shingles)."""
        first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
        out = np.zeros(len(first), dtype=bool)
        bodies = (self.body_hash[first] >= 0) & (self.body_hash[second] >= 0)
        a, b = first[bodies], second[bodies]
        same = self.body_hash[a] == self.body_hash[b]
        codes = np.minimum(a, b) * self.size + np.maximum(a, b)
        shared = np.zeros(len(codes), dtype=np.int64)
        if len(self.pair_codes):
            at = np.minimum(np.searchsorted(self.pair_codes, codes), len(self.pair_codes) - 1)
            shared = np.where(self.pair_codes[at] == codes, self.pair_shared[at], 0)
        smaller = np.minimum(self.clean_body[a], self.clean_body[b])
        overlap = np.where(smaller > 0, shared / np.maximum(smaller, 1), 0.0)
        out[bodies] = same | (overlap >= NEAR_DUPLICATE_OVERLAP)
        # Headlines are compared when either has no body: rare, one pair at a time.
        for i in np.flatnonzero(~bodies):
            out[i] = self._headline_copy(int(first[i]), int(second[i]))
        return out

    def _headline_copy(self, a: int, b: int) -> bool:
        mine = without(self.headline[self.headline_offsets[a] : self.headline_offsets[a + 1]], self.common)
        theirs = without(self.headline[self.headline_offsets[b] : self.headline_offsets[b + 1]], self.common)
        if self.headline_hash[a] == self.headline_hash[b] and len(mine):
            return True
        if not len(mine) or not len(theirs):
            return False
        return len(np.intersect1d(mine, theirs, assume_unique=True)) / min(len(mine), len(theirs)) >= NEAR_DUPLICATE_OVERLAP

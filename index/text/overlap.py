"""Text reuse between two articles: an article's fingerprint (hashes of its normalised headline and
body, and their word shingles) and the containment of one's shingles in the other's.

Containment (shared shingles over the smaller set) says how much of one text appears in the other,
so a story that was trimmed, extended or re-headlined still scores high. Shingles that are common
across the corpus (outlet footers, boilerplate phrases) are left out of the count.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from .normalize import normalize

SHINGLE_WORDS = 5
EMPTY = np.empty(0, dtype=np.uint64)


@dataclass(frozen=True)
class Fingerprint:
    """What text matching needs of an article: hashes of its normalised texts and their shingles."""

    headline_hash: str
    body_hash: str | None
    body_shingles: np.ndarray
    headline_shingles: np.ndarray


def shingles(normalized: str, size: int = SHINGLE_WORDS) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word `size`-grams of a normalised text.

    A text shorter than `size` words is one shingle of all its words.
    """
    words = normalized.split()
    if not words:
        return EMPTY
    grams = [" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))]
    hashes = [int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest(), "little") for g in grams]
    return np.unique(np.asarray(hashes, dtype=np.uint64))


def text_shingles(text: str, size: int = SHINGLE_WORDS) -> np.ndarray:
    return shingles(normalize(text), size)


def without(hashes: np.ndarray, common: np.ndarray) -> np.ndarray:
    """`hashes` minus the sorted array `common`."""
    if not len(common) or not len(hashes):
        return hashes
    # Both sorted: a binary search per hash is much faster than np.isin on these small sets.
    positions = np.minimum(np.searchsorted(common, hashes), len(common) - 1)
    return hashes[common[positions] != hashes]


def _digest(normalized: str) -> str:
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:32]


def fingerprint(headline: str, body: str) -> Fingerprint:
    norm_headline = normalize(headline)
    norm_body = normalize(body) if body else ""
    return Fingerprint(
        headline_hash=_digest(norm_headline),
        body_hash=_digest(norm_body) if norm_body else None,
        body_shingles=shingles(norm_body) if norm_body else EMPTY,
        headline_shingles=shingles(norm_headline),
    )


def without_common(fp: Fingerprint, common: np.ndarray) -> Fingerprint:
    """`fp` without the corpus's common (boilerplate) shingles: clean once, then relate() with no `common`."""
    if not len(common):
        return fp
    return replace(fp, body_shingles=without(fp.body_shingles, common),
                   headline_shingles=without(fp.headline_shingles, common))


def many_without_common(fps: list[Fingerprint], common: np.ndarray) -> list[Fingerprint]:
    """`without_common` of each fingerprint, in one pass over all their shingles (each result owns its
    arrays: a row kept in a cache must not keep the whole batch alive)."""
    if not len(common) or not fps:
        return fps
    sets = [s for fp in fps for s in (fp.body_shingles, fp.headline_shingles)]
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    if not lengths.sum():
        return fps
    flat, owner = np.concatenate(sets), np.repeat(np.arange(len(sets)), lengths)
    position = np.minimum(np.searchsorted(common, flat), len(common) - 1)
    keep = common[position] != flat
    ends = np.cumsum(np.bincount(owner[keep], minlength=len(sets))).tolist()
    kept, starts = flat[keep], [0, *ends[:-1]]
    return [Fingerprint(fp.headline_hash, fp.body_hash, kept[starts[2 * i] : ends[2 * i]].copy(),
                        kept[starts[2 * i + 1] : ends[2 * i + 1]].copy()) for i, fp in enumerate(fps)]


def containment(a: np.ndarray, b: np.ndarray, common: np.ndarray = EMPTY) -> float:
    """Shared shingles over the smaller of the two sets, ignoring common ones; 0.0 when either is empty."""
    a, b = without(a, common), without(b, common)
    if not len(a) or not len(b):
        return 0.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / min(len(a), len(b))


def containments(a: np.ndarray, others: list[np.ndarray], common: np.ndarray = EMPTY) -> np.ndarray:
    """`containment(a, b, common)` for each b of `others`, in one pass over all of them; `a` holds
    no common shingle already (a query is cleaned once; `common` is subtracted from the others' sizes,
    empty when they are cleaned too, as the query path's candidate rows are)."""
    lengths = np.fromiter((len(b) for b in others), dtype=np.int64, count=len(others))
    if not len(a) or not lengths.sum():
        return np.zeros(len(others))
    flat, owner = np.concatenate(others), np.repeat(np.arange(len(others)), lengths)
    position = np.minimum(np.searchsorted(a, flat), len(a) - 1)
    shared = np.bincount(owner, weights=a[position] == flat, minlength=len(others))
    if len(common):
        position = np.minimum(np.searchsorted(common, flat), len(common) - 1)
        lengths = lengths - np.bincount(owner, weights=common[position] == flat, minlength=len(others)).astype(np.int64)
    smaller = np.minimum(lengths, len(a))
    return np.divide(shared, smaller, out=np.zeros(len(others)), where=smaller > 0)


def common_shingles(shingle_sets: list[np.ndarray], min_documents: int) -> np.ndarray:
    """Shingles found in at least `min_documents` of the given texts (document frequency), sorted."""
    if not shingle_sets:
        return EMPTY
    values, counts = np.unique(np.concatenate(shingle_sets), return_counts=True)
    return values[counts >= min_documents]


def to_blob(hashes: np.ndarray) -> bytes:
    return np.ascontiguousarray(hashes, dtype=np.uint64).tobytes()


def from_blob(blob: bytes | None) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.uint64) if blob else EMPTY

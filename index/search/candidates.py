"""What the query path needs of each candidate article, read from the store once and kept in memory
between requests (forgotten when the change log says the article changed)."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..lru import LruCache
from ..records.stored import StoredArticle
from ..text.word_weights import WeightedWords


class CandidateRows:
    """What a candidate needs of a stored article (its metadata, its fingerprint without the version's
    boilerplate), by key, kept between requests: the store is read once per article, not
    once per request. The live index forgets an entry when the change log says its article changed."""

    def __init__(self, size: int) -> None:
        self._rows = LruCache(size)
        self._generation = 0  # bumped by every forget: a row read before one is not kept after it
        self._lock = threading.Lock()

    def known(self, keys: Sequence[int]) -> tuple[dict[int, Candidate], list[int], int]:
        """The rows kept of these keys, the keys without one, and the generation to `keep` the rows
        read for those under (read it before reading them)."""
        with self._lock:
            generation = self._generation
        found = {key: row for key in keys if (row := self._rows.get(key)) is not None}
        return found, [key for key in keys if key not in found], generation

    def keep(self, rows: dict[int, Candidate], generation: int) -> None:
        """Keep rows read since `generation`, unless a `forget` came in between (they may be stale)."""
        with self._lock:
            if generation == self._generation:
                for key, row in rows.items():
                    self._rows.put(key, row)

    def forget(self, keys: set[int] | None) -> None:
        """Forget these articles (None: all of them, a new version has other boilerplate)."""
        with self._lock:
            self._generation += 1
            if keys is None:
                self._rows.discard_if(lambda key: True)
            else:
                self._rows.discard(keys)


@dataclass(frozen=True)
class Candidate:
    """A stored article as the evidence of a candidate needs it, all fixed for an index version."""

    stored: StoredArticle  # with no body (the items shown read their leads), its fingerprint without common shingles
    word_ids: np.ndarray  # its indexed words (see `lexical`), as `word_weights.word_ids`
    headline: WeightedWords  # the rarest words of its headline, weighted (with the version's frequencies)
    vector: np.ndarray
    published: float | None  # seconds since the epoch (see `ranking.timestamp`)
    null_mean: float  # what unrelated articles of the version score against it (see `relatedness.null_of`)
    null_spread: float

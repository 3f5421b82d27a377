"""When a write made a kept answer of GET similar stale: the rule, and the change log each process replays.

An answer is built from the nearest articles of its query article down to a score, its threshold
(minus infinity when the search reached every indexed article), and from the articles holding the
words it searched the word index for (see `text.lexical`). A later change to article K can only alter it
when K is the query article itself, or when one of K's vectors (before the change, any it was stored
with since, after) scores at least the threshold against the query, or when K held (before or
after) one of the searched words: otherwise K was not among the answer's candidates and still is
not. (The word search weighs words by the version's idf: an article's place among its matches
depends on that article's words alone.) Story and pin changes are logged with the same key (see `ArticleStore`), and an
article's change also logs the articles that pin it. Every process replays the store's change log
(`ChangeLog`), so each one knows which answers are still current, its own and those other
processes wrote to the shared table (`answers.cache.AnswerCache`).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Past this many replayed rows (1.5 KB each at 384 dimensions) a process forgets them and treats
# every answer made before as stale, which bounds its memory between two nightly rebuilds.
MAX_REPLAYED = 20_000


@dataclass
class Answer:
    """An answer and what decides whether it is still current."""

    body: dict[str, Any]
    key: int  # the query article's key
    threshold: float  # the lowest score among the candidates; -inf when they were every article
    seq: int  # the answer holds every change up to this position of the change log
    asked: frozenset[str] = frozenset()  # the words it searched the word index for


class ChangeLog:
    """The changes one process replayed since it loaded its index version: (seq, key, vector) rows.

    A changed article has a row for its vector before and one for each vector it was stored with
    since; a deleted one, for its vector before; a story or pin change, for its current vector
    (zeros when it has none). Rows are only ever appended (a reset starts new arrays), so readers
    check them outside the lock.
    """

    def __init__(self, since: int) -> None:
        self.floor = since  # answers current before this position are stale
        self._rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # seqs, keys, vectors
        self._words: list[frozenset[str]] = []  # each row's article's words before and after
        self._count = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    def add(self, seq: int, keys: Sequence[int], vectors: Sequence[np.ndarray | None],
            words: Sequence[frozenset[str]] | None = None) -> None:
        """Rows for changes replayed up to `seq`, one per (key, vector, words); None stands for no vector."""
        if not keys:
            return
        known = next((v for v in vectors if v is not None), None)
        with self._lock:
            # No vector to size rows by (nothing indexed yet), or past the bound: older answers go.
            if (self._rows is None and known is None) or self._count + len(keys) > MAX_REPLAYED:
                self._forget(seq)
                return
            dim = len(known) if self._rows is None else self._rows[2].shape[1]
            seqs, stored_keys, stored_vectors = self._room(self._count + len(keys), dim)
            end = self._count + len(keys)
            seqs[self._count : end] = seq
            stored_keys[self._count : end] = keys
            stored_vectors[self._count : end] = [np.zeros(dim) if v is None else v for v in vectors]
            self._words[self._count :] = words or [frozenset()] * len(keys)
            self._count = end

    def forget_before(self, seq: int) -> None:
        """Treat every answer made before `seq` as stale."""
        with self._lock:
            self._forget(seq)

    def _forget(self, seq: int) -> None:
        self.floor, self._count, self._rows, self._words = max(self.floor, seq), 0, None, []

    def _room(self, needed: int, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays with room for `needed` rows: the current ones, or copies twice as large."""
        if self._rows is not None and needed <= len(self._rows[0]):
            return self._rows
        size = min(MAX_REPLAYED, max(needed, 2 * (len(self._rows[0]) if self._rows else 0), 256))
        grown = (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty((size, dim), dtype=np.float32))
        if self._rows is not None:
            for old, new in zip(self._rows, grown):
                new[: self._count] = old[: self._count]
        self._rows = grown
        return grown

    def confirm_current(self, answer: Answer, vector: np.ndarray | None) -> bool:
        """Whether no change replayed after the answer could alter it; if so, marks the answer current
        up to the newest row checked (it writes `answer.seq`), so that the next check starts after it.

        `vector` is the query article's vector now (None: it has none, so the answer is stale).
        """
        with self._lock:
            if answer.seq < self.floor or vector is None:
                return False
            rows, count, words = self._rows, self._count, self._words
        if rows is None or count == 0:
            return True
        seqs, keys, vectors = rows
        start = int(np.searchsorted(seqs[:count], answer.seq, side="right"))
        if start < count:
            if (keys[start:count] == answer.key).any():
                return False
            if (vectors[start:count] @ vector >= answer.threshold - 1e-6).any():
                return False
            if answer.asked and any(not answer.asked.isdisjoint(held) for held in words[start:count]):
                return False
            answer.seq = max(answer.seq, int(seqs[count - 1]))
        return True

"""The words of every article of an index version as ids in arrays, made by the rebuild and kept with
the version: what a candidate's word evidence needs (its words, its headline's weighted words), read
by key without touching the store or normalising any text at query time.

An article written after the version is not here (nor one changed since): the query path reads its
words from the store as before (see `query.SimilarSearch`).
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..text.lexical import Frequencies, lexical_query, words_of
from ..text.word_weights import WeightedWords, word_ids

if TYPE_CHECKING:
    from ..store.base import Words

ARTICLE_WORDS = "words.npz"  # the file of an index version that holds them


@dataclass(frozen=True, eq=False)
class ArticleWords:
    """Per article (by key, `keys` sorted): its word ids (sorted, unique) and its headline's weighted
    words (the version's `lexical_query` of them: ids sorted, idf weights, their total)."""

    keys: np.ndarray
    word_offsets: np.ndarray  # article i's ids are word_ids[word_offsets[i]:word_offsets[i + 1]]
    word_ids: np.ndarray
    headline_offsets: np.ndarray
    headline_ids: np.ndarray
    headline_weights: np.ndarray
    headline_totals: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, key: int) -> int | None:
        i = int(np.searchsorted(self.keys, key))
        return i if i < len(self.keys) and self.keys[i] == key else None

    def rows(self, keys: Sequence[int]) -> list[int | None]:
        """`row` of each key, in one search."""
        if not len(self.keys):
            return [None] * len(keys)
        wanted = np.asarray(keys, dtype=np.int64)
        found = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        return [int(i) if ok else None for i, ok in zip(found.tolist(), (self.keys[found] == wanted).tolist())]

    def words(self, i: int) -> np.ndarray:
        return self.word_ids[self.word_offsets[i] : self.word_offsets[i + 1]]

    def headline(self, i: int) -> WeightedWords:
        a, b = self.headline_offsets[i], self.headline_offsets[i + 1]
        return WeightedWords(self.headline_ids[a:b], self.headline_weights[a:b], float(self.headline_totals[i]))

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, keys=self.keys, word_offsets=self.word_offsets, word_ids=self.word_ids,
                 headline_offsets=self.headline_offsets, headline_ids=self.headline_ids,
                 headline_weights=self.headline_weights, headline_totals=self.headline_totals)
        return out.getvalue()

    @classmethod
    def read(cls, path: Path, where: str = "") -> ArticleWords | None:
        """The arrays of a version's file, or None when it has none (a version made before them: the
        query path then reads every candidate's words from the store). Read from the file array by
        array: never the whole file in memory beside the arrays it holds (660 MB at a million articles).

        Raises:
            ValueError: the file cannot be read or its arrays disagree (a damaged version).
        """
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as arrays:
                words = cls(**{name: arrays[name] for name in cls.__dataclass_fields__})
        except Exception as exc:  # what numpy's and zipfile's readers raise on damaged bytes varies
            raise ValueError(f"{where}: the article words cannot be read ({type(exc).__name__}: {exc})") from exc
        if len(words.word_offsets) != len(words.keys) + 1 or len(words.headline_offsets) != len(words.keys) + 1:
            raise ValueError(f"{where}: the article words are inconsistent")
        return words


def headline_weights(headline_words: list[str], frequencies: Frequencies) -> WeightedWords:
    """A headline's words weighted as the query path weighs them (see `lexical.lexical_query`)."""
    asked = lexical_query(headline_words, frequencies)
    return WeightedWords.of(asked.idf, asked.weight)


def build_article_words(rows: Iterable[tuple[int, Iterable[str], list[str]]], frequencies: Frequencies) -> ArticleWords:
    """The arrays of (key, words, headline words) rows, in any key order."""
    keys, word_sets, headlines = [], [], []
    for key, words, headline in rows:
        keys.append(key)
        word_sets.append(word_ids(words))
        headlines.append(headline_weights(headline, frequencies))
    order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
    word_sets = [word_sets[i] for i in order]
    headlines = [headlines[i] for i in order]
    return ArticleWords(
        np.asarray(keys, dtype=np.int64)[order],
        _offsets([len(w) for w in word_sets]), _joined([w for w in word_sets], np.int64),
        _offsets([len(h.ids) for h in headlines]), _joined([h.ids for h in headlines], np.int64),
        _joined([h.weights for h in headlines], np.float64), np.array([h.total for h in headlines], dtype=np.float64))


def read_article_words(words: Words, headlines: Iterable[tuple[int, str]], frequencies: Frequencies,
                       chunk: int = 2000) -> ArticleWords:
    """The arrays of articles given as (key, headline): their words read from the store's word index
    `chunk` at a time, their headlines' words normalised here (the rebuild's one pass over them)."""

    def rows() -> Iterator[tuple[int, frozenset[str], list[str]]]:
        batch: list[tuple[int, str]] = []
        for item in headlines:
            batch.append(item)
            if len(batch) == chunk:
                yield from with_words(batch)
                batch = []
        yield from with_words(batch)

    def with_words(batch: list[tuple[int, str]]) -> Iterator[tuple[int, frozenset[str], list[str]]]:
        held = words.words([key for key, _ in batch]) if batch else {}
        for key, headline in batch:
            yield key, held.get(key, frozenset()), words_of(headline, "")

    return build_article_words(rows(), frequencies)


def _offsets(lengths: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts and sum(len(p) for p in parts) else np.empty(0, dtype=dtype)



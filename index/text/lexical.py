"""Lexical neighbours: the stored articles that share an article's rarest words, as a query asks for them.

What Elasticsearch's more_like_this does: each article's words (normalised, without Arabic
proclitics and function words) are indexed by the store (`word_index`, or PostgreSQL's); a query
takes its own words with the highest tf-idf, the corpus's document frequencies deciding, and asks
for the articles holding the most of them (each weighing its idf). Two stories phrased differently but naming the
same people and places meet here even when their embeddings are far apart.
"""
from __future__ import annotations

import functools
import hashlib
import heapq
import json
import math
import zlib
from collections import Counter
from dataclasses import dataclass

from .normalize import normalize
from .prepare import lead
from .terms import _TOKEN, INDEXED_KEYS

LEXICAL_WORDS = 250  # words of the body indexed after the headline
QUERY_TERMS = 25  # a query's words weighed (the evidence of every candidate)
SEARCH_TERMS = 10  # the first of them searched for (rare words have short lists: the search stays fast)
MAX_SEARCHED_DOCS = 300  # a word more articles hold is weighed, not searched for
MAX_DOC_SHARE = 0.05  # words in more than this share of the articles are too common to ask for

FREQUENCIES = "frequencies.json.z"  # the file of an index version that holds them


def words_of(headline: str, body: str) -> list[str]:
    """An article's indexed words, in order: normalised, without proclitics, function words and
    single letters."""
    text = normalize(f"{headline}\n{lead(body, LEXICAL_WORDS)}")
    return [key for key in map(INDEXED_KEYS.__getitem__, _TOKEN.findall(text)) if key]


@dataclass(frozen=True)
class LexicalQuery:
    """The words a query asks for, each with its inverse document frequency."""

    idf: dict[str, float]
    weight: float = 0.0  # the sum of the idf
    searched: tuple[str, ...] = ()  # the words the word index is searched for

    def shared(self, words: frozenset[str] | set[str]) -> float:
        """The share of the query's word weight that a candidate's words hold, in [0, 1]."""
        return sum(self.idf[t] for t in sorted(self.idf.keys() & words)) / self.weight if self.weight else 0.0


@dataclass(frozen=True, eq=False)
class Frequencies:
    """How many articles held each word when an index version was built, and how many articles
    there were: fixed for the version, so that every process ranks alike."""

    docs: dict[str, int]
    total: int

    @functools.cached_property
    def digest(self) -> str:
        """A short name of these frequencies: answers ranked with others are not shared."""
        return hashlib.sha256(self.to_blob()).hexdigest()[:12]

    def to_blob(self) -> bytes:
        return zlib.compress(json.dumps({"docs": self.docs, "total": self.total}, ensure_ascii=False).encode())

    @classmethod
    def from_blob(cls, blob: bytes | None) -> Frequencies | None:
        if not blob:
            return None
        doc = json.loads(zlib.decompress(blob))
        return cls(doc["docs"], doc["total"])


def lexical_query(words: list[str], frequencies: Frequencies) -> LexicalQuery:
    """The query's QUERY_TERMS words with the highest tf-idf among those at most MAX_DOC_SHARE of
    the articles hold (a word no article held when the version was built counts as held by one)."""
    total, counts = max(1, frequencies.total), Counter(words)
    limit = max(2, MAX_DOC_SHARE * total)
    docs = {t: max(1, frequencies.docs.get(t, 0)) for t in counts}
    idf = {t: math.log(1 + (total - d + 0.5) / (d + 0.5)) for t, d in docs.items() if d <= limit}
    best = heapq.nsmallest(QUERY_TERMS, idf, key=lambda t: (-counts[t] * idf[t], t))  # as sorted(...)[:QUERY_TERMS]
    searched = tuple([t for t in best if docs[t] <= MAX_SEARCHED_DOCS][:SEARCH_TERMS])
    return LexicalQuery({t: idf[t] for t in best}, sum(idf[t] for t in best), searched)

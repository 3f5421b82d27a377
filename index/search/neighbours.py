"""What the query path starts from and finds: a query (a stored article or a draft, with its words),
the neighbours found near it with their relation and relatedness, the picks shown, and how far the
candidates reached. Plain records, shared by `query`, `selection` and `present`."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..records.article import Article
from ..records.stored import StoredArticle
from ..relatedness.relations import Relation
from ..text import lexical
from ..text.overlap import Fingerprint
from ..text.prepare import lead
from ..text.word_weights import WeightedWords, word_ids
from .ranking import timestamp

WHY_LEAD_WORDS = 60


@dataclass(frozen=True)
class Neighbour:
    """A stored article found near a query, and how it relates to the query."""

    stored: StoredArticle
    relation: Relation
    relatedness: float | None = None  # calibrated probability of "related" (None: uncalibrated, or pinned)
    same_event: bool = False

    @property
    def key(self) -> int:
        return self.stored.key

    @property
    def article(self) -> Article:
        return self.stored.article

    @property
    def story_id(self) -> str:
        return self.stored.story_id

    @property
    def score(self) -> float:
        return self.relation.score

    @functools.cached_property
    def published(self) -> float | None:
        """Its publication time in seconds since the epoch (see `ranking.timestamp`)."""
        return timestamp(self.article.published_at)


@dataclass(frozen=True)
class Shown:
    """A pick of the query path: pinned by an editor, or found (with its story's copies collapsed
    into it, `also`; None when the request shows every copy)."""

    neighbour: Neighbour
    pinned: bool
    also: list[str] | None = None


@dataclass(frozen=True)
class Reach:
    """How far an answer's candidates went: the nearest by cosine down to `threshold` (-inf: every
    article), and any article holding a word it searched for, `asked` (see `staleness`)."""

    threshold: float
    asked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Query:
    """What a similar-stories search starts from: a stored article, or a draft (no key, no id)."""

    fingerprint: Fingerprint
    vector: np.ndarray
    key: int | None
    article_id: str | None
    story_id: str | None
    source: str | None
    published_at: str | None  # the reference time of recency and max_age_days
    text: str  # headline and lead, for the shared terms
    words: tuple[str, ...] = ()  # its indexed words (see `lexical`)
    headline_words: tuple[str, ...] = ()
    section: str | None = None

    @functools.cached_property
    def published(self) -> float | None:
        return timestamp(self.published_at)

    @functools.cached_property
    def word_ids(self) -> np.ndarray:
        return word_ids(self.words)

    def asked(self, frequencies: lexical.Frequencies) -> QueryWords:
        """Its words as the version's frequencies weigh them (computed once a query and version)."""
        kept = self.__dict__.get("_asked")
        if kept is None or kept.frequencies is not frequencies:
            kept = QueryWords.of(self, frequencies)
            object.__setattr__(self, "_asked", kept)  # a memo of a frozen instance (as cached_property does)
        return kept


@dataclass(frozen=True, eq=False)
class QueryWords:
    """A query's words weighed with an index version's frequencies: those searched and weighed
    (`lexical.lexical_query`), and its headline's, as the evidence needs them."""

    frequencies: lexical.Frequencies
    asked: lexical.LexicalQuery
    weighted: WeightedWords
    headline: WeightedWords

    @classmethod
    def of(cls, query: Query, frequencies: lexical.Frequencies) -> QueryWords:
        asked = lexical.lexical_query(list(query.words), frequencies)
        headline = lexical.lexical_query(list(query.headline_words), frequencies)
        return cls(frequencies, asked, WeightedWords.of(asked.idf, asked.weight),
                   WeightedWords.of(headline.idf, headline.weight))


def text_query(headline: str, body: str, fp: Fingerprint, vector: np.ndarray, key: int | None,
               article_id: str | None, story_id: str | None, source: str | None, published_at: str | None,
               section: str | None = None) -> Query:
    """A query, with what its text gives: the lead shared terms come from, and its indexed words."""
    return Query(fp, vector, key, article_id, story_id, source, published_at,
                 f"{headline}\n{lead(body, WHY_LEAD_WORDS)}", tuple(lexical.words_of(headline, body)),
                 tuple(lexical.words_of(headline, "")), section)

"""The query path: candidates from the live index, their relation to the query, filters, ranking,
one item per story, diversity, then the items as clients see them."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .answers import LruCache
from .article import Article
from .backends import Store
from .errors import EngineError, NotFound
from .live_index import LiveIndex
from .options import SimilarOptions
from .ranking import days_between, mmr, recency_factor
from .relations import DUPLICATES, Fingerprint, Relation, relate, without_common
from .store import StoredArticle
from .stories import collapse
from .text import lead, primary_subtag

WHY_LEAD_WORDS = 60
NEIGHBOUR_BODY_CHARS = 1500  # a lead is all a neighbour needs of its body (for the why)
CANDIDATE_ROWS = 20_000  # candidates kept in memory per process (about 5 KB each)


@dataclass(frozen=True)
class Neighbour:
    """A stored article found near a query, and how it relates to the query."""

    stored: StoredArticle
    relation: Relation

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


@dataclass(frozen=True)
class Shown:
    """A pick of the query path: pinned by an editor, or found (with its story's copies collapsed
    into it, `also`; None when the request shows every copy)."""

    neighbour: Neighbour
    pinned: bool
    also: list[str] | None = None


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


class CandidateRows:
    """What a candidate needs of a stored article (its metadata, a lead, its fingerprint without the
    version's boilerplate), by key, kept between requests: the store is read once per article, not
    once per request. The live index forgets an entry when the change log says its article changed."""

    def __init__(self, size: int) -> None:
        self._rows = LruCache(size)
        self._generation = 0  # bumped by every forget: a row read before one is not kept after it
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[int], read: Callable[[list[int]], dict[int, Candidate]]) -> dict[int, Candidate]:
        found = {key: row for key in keys if (row := self._rows.get(key)) is not None}
        missing = [key for key in keys if key not in found]
        if missing:
            with self._lock:
                generation = self._generation
            fresh = read(missing)
            with self._lock:
                if generation == self._generation:
                    for key, row in fresh.items():
                        self._rows.put(key, row)
            found.update(fresh)
        return found

    def forget(self, keys: set[int] | None) -> None:
        """Forget these articles (None: all of them, a new version has other boilerplate)."""
        with self._lock:
            self._generation += 1
            self._rows.discard_if(lambda key: keys is None or key in keys)


@dataclass(frozen=True)
class Candidate:
    stored: StoredArticle  # with only a lead of its body
    cleaned: Fingerprint  # without the version's boilerplate shingles


class SimilarSearch:
    """Similar stories and duplicates of a query, over the live index and the store."""

    def __init__(self, live: LiveIndex, store: Store, related_floor: float, cached_rows: int = CANDIDATE_ROWS) -> None:
        self.live, self.store, self.related_floor = live, store, related_floor
        self.rows = CandidateRows(cached_rows)
        live.listeners.append(self.rows.forget)

    def stored(self, article_id: str) -> StoredArticle:
        """The stored article, or NotFound naming `id`."""
        stored = self.store.get(article_id)
        if stored is None:
            raise NotFound(f"no article with id {article_id!r}", "id")
        return stored

    def vector_of(self, stored: StoredArticle) -> np.ndarray:
        """An article's vector: the index's, else the cache's (stored, not yet replayed here)."""
        vector = self.live.vector(stored.key)
        if vector is None:
            vector = self.live.embedder.cached([stored.embed_key]).get(stored.embed_key)
        if vector is None:
            raise EngineError(f"article {stored.article.id!r} has no vector yet")
        return vector

    def query_of(self, stored: StoredArticle) -> Query:
        article = stored.article
        return Query(stored.fingerprint, self.vector_of(stored), stored.key, article.id, stored.story_id,
                     article.source, article.published_at, f"{article.headline}\n{lead(article.body, WHY_LEAD_WORDS)}")

    def relate(self, a: Fingerprint, b: Fingerprint, score: float) -> Relation:
        return relate(a, b, score, self.live.version.common, self.related_floor)

    def neighbours(self, fp: Fingerprint, vector: np.ndarray, depth: int, exclude_key: int | None) -> list[Neighbour]:
        """The `depth` nearest stored articles (best first) with their relation to the query."""
        hits = [h for h in self.live.search(vector, depth + 1) if h[0] != exclude_key][:depth]
        found = self.rows.get_many([key for key, _ in hits], self._read_candidates)
        query = without_common(fp, self.live.version.common)
        return [Neighbour(found[key].stored, relate(query, found[key].cleaned, score, floor=self.related_floor))
                for key, score in hits if key in found]

    def _read_candidates(self, keys: list[int]) -> dict[int, Candidate]:
        common = self.live.version.common
        return {key: Candidate(s, without_common(s.fingerprint, common))
                for key, s in self.store.get_by_keys(keys, body_chars=NEIGHBOUR_BODY_CHARS).items()
                if s.fingerprint is not None}

    def pinned(self, query: Query) -> list[Neighbour]:
        """The editor's pins of the query article that still exist, in the editor's order."""
        if query.article_id is None:
            return []
        return [Neighbour(s, self.relate(query.fingerprint, s.fingerprint, float(query.vector @ self.vector_of(s))))
                for s in self.store.pinned(query.article_id)]

    def items(self, query: Query, options: SimilarOptions) -> tuple[list[Shown], float]:
        """Pinned items first, then neighbours that pass the filters, re-ranked, collapsed, diversified.

        Also returns the lowest score among the candidates (-inf when they were every article): an
        article scoring below it could not have entered the answer (see `answers`).
        """
        pins = self.pinned(query)[: options.k]
        wanted = options.k - len(pins)
        groups, found, depth = self._groups(query, options, wanted, options.exclude | {p.article.id for p in pins})
        if options.diversity and len(groups) > 1:
            pool = groups[: 3 * options.k]
            relevance = np.array([rank_score(n, options, query) for n, _ in pool])
            vectors = np.stack([self.vector_of(n.stored) for n, _ in pool])
            groups = [pool[i] for i in mmr(relevance, vectors, wanted, options.diversity)]
        collapsed = options.duplicates == "collapse"
        shown = [Shown(n, pinned=True) for n in pins] + [
            Shown(chosen, pinned=False, also=[n.article.id for n in rest] if collapsed else None)
            for chosen, rest in groups[:wanted]]
        return shown, (found[-1].score if len(found) >= depth else -math.inf)

    def _groups(self, query: Query, options: SimilarOptions, wanted: int,
                skip: set[str]) -> tuple[list[tuple[Neighbour, list[Neighbour]]], list[Neighbour], int]:
        """Ranked groups (an item and its collapsed copies), searching deeper while filters leave
        fewer than `wanted` and the index holds more; also the last search's candidates and depth."""
        # Re-ranking (recency, diversity) needs a wider pool than the k nearest; plain similarity does not.
        reranked = options.recency_half_life_days > 0 or options.diversity > 0
        depth, size = (3 * options.k + 20 if reranked else 2 * options.k + 10), len(self.live)
        floor = max(self.related_floor, options.min_score if options.min_score is not None else -1.0)
        while True:
            found = self.neighbours(query.fingerprint, query.vector, depth, query.key)
            kept = [n for n in found if n.article.id not in skip and passes(n, options, query)]
            groups = grouped(sorted(kept, key=lambda n: -rank_score(n, options, query)), options, query)
            # Hits come best first: once the deepest is under the floor, no deeper one can pass.
            if len(groups) >= wanted or depth >= size or (found and found[-1].score < floor):
                return groups, found, depth
            depth = min(size, depth * 4)

    def duplicates(self, stored: StoredArticle, depth: int) -> list[Neighbour]:
        """Stored duplicates and near-duplicates of a stored article: its neighbours and its story."""
        vector = self.vector_of(stored)
        found = {n.key: n for n in self.neighbours(stored.fingerprint, vector, depth, stored.key)}
        for member in self.store.story_members([stored.story_id]):
            if member.key != stored.key and member.key not in found and member.fingerprint is not None:
                score = float(vector @ self.vector_of(member))
                found[member.key] = Neighbour(member, self.relate(stored.fingerprint, member.fingerprint, score))
        return list(found.values())


def grouped(ranked: list[Neighbour], options: SimilarOptions, query: Query) -> list[tuple[Neighbour, list[Neighbour]]]:
    """Every item alone (`duplicates=include`), or one per story without the query's own story,
    ordered by the item shown for each story (not by its best member)."""
    if options.duplicates == "include":
        return [(n, []) for n in ranked]
    others = [n for n in ranked if n.relation.relation not in DUPLICATES
              and not (query.story_id and n.story_id == query.story_id)]
    return sorted(collapse(others, query.source), key=lambda g: -rank_score(g[0], options, query))


def passes(n: Neighbour, o: SimilarOptions, query: Query) -> bool:
    """Whether a neighbour passes the request's filters (the related floor always applies)."""
    a = n.article
    if n.relation.relation == "unrelated" or (o.min_score is not None and n.score < o.min_score):
        return False
    if o.language and not language_matches(a.language, o.language):
        return False
    if o.section and a.section != o.section:
        return False
    if (o.source and a.source != o.source) or (o.exclude_source and a.source == o.exclude_source):
        return False
    if o.since and not (a.published_at and a.published_at >= o.since):
        return False
    if o.until and not (a.published_at and a.published_at <= o.until):
        return False
    if o.max_age_days is not None:
        apart = days_between(query.published_at, a.published_at)
        if apart is None or apart > o.max_age_days:
            return False
    return True


def language_matches(language: str | None, wanted: str) -> bool:
    """`ar` matches `ar`, `ar-TN`, `AR-tn`; `ar-TN` matches only `ar-TN` (in any case)."""
    if not language:
        return False
    if "-" in wanted:
        return language.lower() == wanted.lower()
    return primary_subtag(language) == wanted.lower()


def rank_score(n: Neighbour, o: SimilarOptions, query: Query) -> float:
    return n.score * recency_factor(days_between(query.published_at, n.article.published_at), o.recency_half_life_days)

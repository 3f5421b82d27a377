"""The query path: candidates from the live index (the nearest by cosine and, when the embedder is
calibrated, those sharing the query's rarest words), their relation and relatedness to the query,
filters, ranking, one item per story, diversity. `present` turns the picks into answers."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..errors import EngineError, NotFound
from ..records.options import SimilarOptions
from ..records.stored import StoredArticle
from ..relatedness.model import Calibration, Null, cosine_z, evidence, null_of, same_section
from ..relatedness.relations import DUPLICATES, Relation, relate, relate_many
from ..store.base import Store
from ..text import lexical
from ..text.overlap import Fingerprint, fingerprint, many_without_common
from ..text.word_weights import held_shares, shares_held_of, word_ids
from .article_words import headline_weights
from .candidates import Candidate, CandidateRows
from .live_index import LiveIndex
from .neighbours import Neighbour, Query, QueryWords, Reach, Shown, text_query
from .ranking import days_apart, mmr, timestamp
from .selection import filters_candidates, grouped, passes, rank_score

NEIGHBOUR_BODY_CHARS = 1500  # a lead is all a shown item needs of its body (for the why); a candidate needs none
CANDIDATE_ROWS = 20_000  # candidates kept in memory per process (about 5 KB each)
LEXICAL_DEPTH = 30  # candidates sharing the query's rarest words, beside the nearest by cosine
CALIBRATED_DEPTH = 2000  # the deepest a filtered request searches when relatedness decides
# The relation of an item that tops up a block (`fill`): what it is, never "related".
FILL_RELATIONS = {"section": "more_from_section", "latest": "latest"}


class SimilarSearch:
    """Similar stories and duplicates of a query, over the live index and the store."""

    def __init__(self, live: LiveIndex, store: Store, related_floor: float, calibration: Calibration | None = None,
                 cached_rows: int = CANDIDATE_ROWS) -> None:
        self.live, self.store, self.related_floor = live, store, related_floor
        self.rows = CandidateRows(cached_rows)
        self._calibration = calibration
        live.listeners.append(self.rows.forget)

    @property
    def calibration(self) -> Calibration | None:
        return self._calibration

    @calibration.setter
    def calibration(self, calibration: Calibration | None) -> None:
        self._calibration = calibration
        self.rows.forget(None)  # their nulls lean on the calibration's prior

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
        return text_query(article.headline, article.body, stored.fingerprint, self.vector_of(stored), stored.key,
                          article.id, stored.story_id, article.source, article.published_at, article.section)

    def draft_query(self, headline: str, body: str, vector: np.ndarray, published_at: str) -> Query:
        """The query of a text that is not stored (an editor's draft)."""
        return text_query(headline, body, fingerprint(headline, body), vector, None, None, None, None, published_at)

    def relate(self, a: Fingerprint, b: Fingerprint, score: float) -> Relation:
        return relate(a, b, score, self.live.version.common, self.related_floor)

    def neighbours(self, fp: Fingerprint, vector: np.ndarray, depth: int, exclude_key: int | None) -> list[Neighbour]:
        """The `depth` nearest stored articles by cosine (best first) with their relation to the query
        by text and cosine alone (what duplicates and story links need)."""
        hits = [h for h in self.live.search(vector, depth + 1) if h[0] != exclude_key][:depth]
        rows = self._rows([key for key, _ in hits])
        return self._related(fp, hits, rows, self.related_floor)

    def _rows(self, keys: list[int]) -> dict[int, Candidate]:
        """The candidate rows of these keys: those kept, and the others read from the store (then kept)."""
        found, missing, generation = self.rows.known(keys)
        if missing:
            fresh = self._read_candidates(missing)
            self.rows.keep(fresh, generation)
            found.update(fresh)
        return found

    def _read_candidates(self, keys: list[int]) -> dict[int, Candidate]:
        """Candidate rows of the stored articles among `keys` that the index holds, read in one batch."""
        version = self.live.version
        stored = self.store.get_by_keys(keys, body_chars=0)
        present = [key for key in keys if key in stored and stored[key].fingerprint is not None]
        vectors, found = self.live.vectors(present)
        present, vectors = [key for key, ok in zip(present, found) if ok], vectors[found]
        if not present:
            return {}
        # The version's arrays hold the words of the articles it was built with; the others' come from the store.
        kept, changed = self.live.article_words()
        positions = dict(zip(present, kept.rows(present))) if kept is not None else {}
        positions.update((key, None) for key in changed.intersection(positions))
        read = [key for key in present if positions.get(key) is None]
        words = self.store.words.words(read) if read else {}
        null = self.null(vectors) if self.calibration else Null(np.zeros(len(present)), np.ones(len(present)))
        rows = {}
        cleaned = many_without_common([stored[key].fingerprint for key in present], version.common)
        for i, key in enumerate(present):
            s = StoredArticle(key, stored[key].article, stored[key].embed_key, cleaned[i], stored[key].story_id)
            if positions.get(key) is None:
                ids = word_ids(words.get(key, ()))
                headline = headline_weights(lexical.words_of(s.article.headline, ""), version.frequencies)
            else:
                ids, headline = kept.words(positions[key]), kept.headline(positions[key])
            rows[key] = Candidate(s, ids, headline, vectors[i],
                                  timestamp(s.article.published_at), float(null.mean[i]), float(null.spread[i]))
        return rows

    def candidates(self, query: Query, depth: int, query_null: Null | None = None) -> tuple[list[Neighbour], Reach]:
        """The `depth` nearest by cosine, and (calibrated) the articles sharing the query's rarest
        words, each with its relation and relatedness; also how far they reached.

        Every candidate's evidence comes from its row (read from the store once, kept between
        requests) in a few array passes over all of them: per-candidate work is what FAISS costs.
        """
        hits = [h for h in self.live.search(query.vector, depth + 1) if h[0] != query.key][:depth]
        deepest = hits[-1][1] if len(hits) >= depth else -math.inf
        if self.calibration is None:
            rows = self._rows([key for key, _ in hits])
            return self._related(query.fingerprint, hits, rows, self.related_floor), Reach(deepest)
        words = query.asked(self.live.version.frequencies)
        asked = words.asked
        near = {key for key, _ in hits}
        lexical_keys = [key for key, _ in self.store.words.search(asked, LEXICAL_DEPTH + 1)
                        if key not in near and key != query.key]
        rows = self._rows([key for key, _ in hits] + lexical_keys)
        hits += [(key, float(query.vector @ rows[key].vector)) for key in lexical_keys if key in rows]
        found = self._related(query.fingerprint, hits, rows, -math.inf)
        # A write holding a searched word may enter (or push out) a lexical candidate whatever its cosine.
        reach = Reach(deepest, frozenset(asked.searched))
        if not found:
            return found, reach
        query_null = self.null(query.vector) if query_null is None else query_null
        scores = self.calibration.relatedness(self._evidence(query, found, rows, words, query_null))
        # Text reuse is the same story (judges said so of every copy); under the gate, nothing is related.
        copies = np.array([n.relation.relation in DUPLICATES for n in found])
        gated = np.array([n.score for n in found]) >= self.calibration.gate(query_null)
        scores = np.where(copies, 1.0, np.where(gated, scores, 0.0))
        same = self.calibration.same_event
        return [Neighbour(n.stored, n.relation, p, p >= same) for n, p in zip(found, scores.tolist())], reach

    def null(self, vectors: np.ndarray) -> Null:
        """What unrelated articles of this index score against each of these vectors (see `relatedness.model`)."""
        if self.calibration is None:  # no prior to lean on: the reference alone (what a calibration is fitted on)
            return null_of(vectors, self.live.version.reference, (0.0, 1.0), weight=0.0)
        return null_of(vectors, self.live.version.reference, self.calibration.null_prior)

    def gate(self, query: Query, query_null: Null | None = None) -> float:
        """The cosine under which no candidate of the query is related (calibrated), or the related floor."""
        if self.calibration is None:
            return self.related_floor
        return self.calibration.gate(self.null(query.vector) if query_null is None else query_null)

    def evidence_for(self, query: Query, keys: list[int]) -> np.ndarray:
        """The evidence rows (see `relatedness.FEATURES`) of these stored articles as candidates of the
        query, as the query path computes them (the judged pairs are fitted on these)."""
        rows = self._rows(keys)
        hits = [(key, float(query.vector @ rows[key].vector)) for key in keys if key in rows]
        found = self._related(query.fingerprint, hits, rows, -math.inf)
        return self._evidence(query, found, rows, query.asked(self.live.version.frequencies), self.null(query.vector))

    @staticmethod
    def _evidence(query: Query, found: list[Neighbour], rows: dict[int, Candidate], words: QueryWords,
                  query_null: Null) -> np.ndarray:
        """The evidence of every candidate at once (see `relatedness.evidence`)."""
        candidates = [rows[n.key] for n in found]
        ids = [c.word_ids for c in candidates]
        cosines = np.array([n.score for n in found])
        candidate_null = Null(np.array([c.null_mean for c in candidates]), np.array([c.null_spread for c in candidates]))
        return evidence(cosines, cosine_z(cosines, query_null, candidate_null),
                        held_shares(words.weighted, ids), held_shares(words.headline, ids),
                        shares_held_of([c.headline for c in candidates], query.word_ids),
                        [days_apart(query.published, c.published) for c in candidates],
                        [same_section(query.section, n.article.section) for n in found])

    def _related(self, fp: Fingerprint, hits: list[tuple[int, float]], rows: dict[int, Candidate],
                 floor: float) -> list[Neighbour]:
        """Hits that have a row, with their relation to a query of fingerprint `fp` (calibrated, the
        floor is -inf: any that is no copy is `related` here, its relatedness decides)."""
        kept = [(key, score) for key, score in hits if key in rows]
        relations = relate_many(fp, [rows[key].stored.fingerprint for key, _ in kept],
                                np.array([score for _, score in kept], dtype=np.float64), self.live.version.common, floor)
        return [Neighbour(rows[key].stored, relation) for (key, _), relation in zip(kept, relations)]

    def pinned(self, query: Query) -> list[Neighbour]:
        """The editor's pins of the query article that still exist, in the editor's order."""
        if query.article_id is None:
            return []
        return [Neighbour(s, self.relate(query.fingerprint, s.fingerprint, float(query.vector @ self.vector_of(s))))
                for s in self.store.pinned(query.article_id)]

    def items(self, query: Query, options: SimilarOptions) -> tuple[list[Shown], Reach]:
        """Pinned items first, then neighbours that pass the filters, re-ranked, collapsed, diversified.

        Also returns how far the candidates reached: an article out of reach could not have entered
        the answer (see `staleness`).
        """
        pins = self.pinned(query)[: options.k]
        wanted = options.k - len(pins)
        groups, reach = self._groups(query, options, wanted, options.exclude | {p.article.id for p in pins})
        if options.diversity and len(groups) > 1:
            pool = groups[: 3 * options.k]
            relevance = np.array([rank_score(n, options, query) for n, _ in pool])
            vectors, stored = self.live.vectors([n.key for n, _ in pool])
            if not stored.all():  # one left the index meanwhile: the cache still has its vector
                vectors = np.stack([self.vector_of(n.stored) for n, _ in pool])
            groups = [pool[i] for i in mmr(relevance, vectors, wanted, options.diversity)]
        collapsed = options.duplicates == "collapse"
        chosen = self.with_leads([n for n, _ in groups[:wanted]])
        shown = [Shown(n, pinned=True) for n in pins] + [
            Shown(n, pinned=False, also=[m.article.id for m in rest] if collapsed else None)
            for n, (_, rest) in zip(chosen, groups[:wanted])]
        if options.fill != "none" and len(shown) < options.k:
            seen = options.exclude | {s.neighbour.article.id for s in shown} | {i for s in shown for i in s.also or ()}
            shown += self.filled(query, options, options.k - len(shown), seen)
            reach = Reach(-math.inf, reach.asked)  # any write may bring a newer article: no answer outlives one
        return shown, reach

    def with_leads(self, found: list[Neighbour]) -> list[Neighbour]:
        """The neighbours with the lead of their body (candidate rows hold none: only the items shown
        need it, for the why), read in one batch; everything else is as the candidate row was filtered
        and grouped. One deleted meanwhile keeps no body (its why comes from its headline)."""
        leads = self.store.get_by_keys([n.key for n in found], body_chars=NEIGHBOUR_BODY_CHARS) if found else {}
        return [Neighbour(StoredArticle(n.key, replace(n.article, body=leads[n.key].article.body), n.stored.embed_key,
                                        n.stored.fingerprint, n.story_id), n.relation, n.relatedness, n.same_event)
                if n.key in leads else n for n in found]

    def filled(self, query: Query, options: SimilarOptions, count: int, seen: set[str]) -> list[Shown]:
        """Up to `count` items that top up a block: the newest articles (of the query's section with
        `fill=section`) published up to the query, passing the request's filters, outside the
        query's story and `seen`, each under its fill relation (see FILL_RELATIONS)."""
        section = query.section if options.fill == "section" else None
        if options.fill == "section" and not section:
            return []
        relation = FILL_RELATIONS[options.fill]
        found: list[Shown] = []
        for stored in self.store.newest(section, query.published_at, 4 * count + len(seen) + 10, NEIGHBOUR_BODY_CHARS):
            vector = self.live.vector(stored.key)
            if (stored.article.id in seen or stored.key == query.key or vector is None
                    or (query.story_id and stored.story_id == query.story_id)):
                continue
            n = Neighbour(stored, Relation(relation, float(query.vector @ vector), 0.0, "none"))
            if passes(n, options, query):
                found.append(Shown(n, pinned=False, also=[] if options.duplicates == "collapse" else None))
                if len(found) == count:
                    break
        return found

    def _groups(self, query: Query, options: SimilarOptions, wanted: int,
                skip: set[str]) -> tuple[list[tuple[Neighbour, list[Neighbour]]], Reach]:
        """Ranked groups (an item and its collapsed copies), searching deeper while filters leave
        fewer than `wanted` and the index holds more; also the cosine under which an article could
        not have entered them (see `candidates`)."""
        # Re-ranking (recency, diversity) needs a wider pool than the k nearest; plain similarity does not.
        reranked = options.recency_half_life_days > 0 or options.diversity > 0
        depth, size = (3 * options.k + 20 if reranked else 2 * options.k + 10), len(self.live)
        query_null = self.null(query.vector) if self.calibration else None
        floor = max(self.gate(query, query_null), options.min_score if options.min_score is not None else -1.0)
        least = options.min_relatedness if options.min_relatedness is not None else (
            self.calibration.floor if self.calibration else None)
        while True:
            found, reach = self.candidates(query, depth, query_null)
            kept = [n for n in found if n.article.id not in skip and passes(n, options, query, least)]
            groups = grouped(sorted(kept, key=lambda n: -rank_score(n, options, query)), options, query)
            # Hits come best first: once the deepest is under the floor, no deeper one can pass.
            if len(groups) >= wanted or depth >= size or reach.threshold < floor:
                return groups, reach
            # Calibrated, a deeper (lower cosine) hit is seldom related: search deeper only while the
            # filters leave out related candidates, and not past CALIBRATED_DEPTH.
            if self.calibration and (depth >= CALIBRATED_DEPTH or not filters_candidates(options) or len(kept) == sum(
                    n.article.id not in skip and passes(n, SimilarOptions(), query, least) for n in found)):
                return groups, reach
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

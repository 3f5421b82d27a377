"""The engine: store, embedding cache, embedder and vector index working as one.

Writes go to the store first (the source of truth) and reach the index through the store's change
log, so that every process serving the same data folder converges on the same index.
"""
from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import crash_points, snapshots
from .answers import Answer, AnswerCache, ChangeLog
from .article import Article, valid_id
from .embedders import DEFAULT_MODEL, Embedder, create_embedder
from .embedding_cache import EmbeddingCache, embed_key
from .errors import EngineError, IndexCorrupt, InvalidInput, ModelMismatch, NotFound, RebuildBusy
from .options import SimilarOptions, options_from, options_key
from .overlap import common_shingles, from_blob, to_blob
from .relations import DUPLICATES, Fingerprint, Relation, default_floor, fingerprint, relate, without_common
from .ranking import days_between, mmr, recency_factor
from .stories import collapse, connected_groups, first_published
from .terms import shared_terms
from .store import ArticleStore, StoredArticle
from .text import DEFAULT_LEAD_WORDS, detect_language, embedding_text, lead, primary_subtag
from .vectors import VectorIndex, new_index

log = logging.getLogger(__name__)

SELF_CHECK_SAMPLE = 20
MAX_PINS = 20
WHY_LEAD_WORDS = 60
NEIGHBOUR_BODY_CHARS = 1500
WARM_CRASH_AFTER = 10  # answers warmed before the crash point "rebuild:warming" (tests)
ANSWER_CACHE_SIZE = 2048  # GET similar answers kept in memory per process (the shared file keeps more)
# Part of the key of every cached answer: bump it when what an answer holds, or how it is ranked,
# changes, so that answers filed by the code before are not served by the code after.
ANSWERS_FORMAT = 3
# Nearest neighbours checked for text reuse: candidates for duplicates and story links (never all pairs).
DUPLICATE_CANDIDATES = 50
STORY_CANDIDATES = 20
# A shingle found in this many articles is boilerplate (footers, stock phrases), not evidence of reuse.
# A wire story republished by every one of SaudiNewsNet's 14 outlets stays below it.
COMMON_SHINGLE_ARTICLES = 20
Progress = Callable[[int], None]
# A rebuild reports each stage it enters, with its size, and gets back what to call as work is done.
Stages = Callable[[str, int], Progress]


def _no_progress(done: int) -> None:
    pass


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

    def to_dict(self) -> dict[str, Any]:
        return {**public_fields(self.stored), **self.relation.to_dict()}


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


@dataclass(frozen=True)
class RebuildSummary:
    articles: int
    embedded: int
    cached: int
    seconds: float
    version: str
    index_type: str

    def line(self) -> str:
        return (
            f"rebuilt index {self.version}: {self.articles} articles, {self.embedded} embedded, "
            f"{self.cached} from cache, {self.index_type}, {self.seconds:.1f}s"
        )


class Engine:
    """Similar-stories search over the articles of one data folder.

    Args:
        data_dir: folder holding the SQLite store and the index versions.
        model: embedder name (see `create_embedder`); recorded with every index version.
        lead_words: how many words of the body are embedded after the headline.
        embedding_cache: path of the embedding cache (default: inside `data_dir`).
        keep_versions: how many index versions a rebuild keeps on disk.
        embedder: an already-built embedder (tests share one); must match `model`.
        related_floor: cosine below which an article is not related (default: measured for the model).
    """

    def __init__(
        self,
        data_dir: Path | str,
        model: str = DEFAULT_MODEL,
        lead_words: int = DEFAULT_LEAD_WORDS,
        embedding_cache: Path | str | None = None,
        keep_versions: int = 3,
        embedder: Embedder | None = None,
        related_floor: float | None = None,
    ) -> None:
        if lead_words < 0:
            raise ValueError("lead_words must be >= 0")
        if embedder is not None and embedder.name != model:
            raise ValueError(f"embedder {embedder.name!r} does not match model {model!r}")
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.lead_words = lead_words
        self.keep_versions = keep_versions
        self.related_floor = default_floor(model) if related_floor is None else related_floor
        self.index_root = self.data_dir / "index"
        self.store = ArticleStore(self.data_dir / "articles.sqlite")
        self.cache = EmbeddingCache(Path(embedding_cache) if embedding_cache else self.data_dir / "embeddings.sqlite")
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._meta: snapshots.SnapshotMeta | None = None
        self._seq = 0
        self._replayed = ChangeLog(0)
        self._pointer_stamp: tuple[int, int] | None = None
        self._loaded = False
        self._load_lock = threading.Lock()
        self.on_embed: Callable[[int, float], None] | None = None  # (texts, seconds): for metrics
        self.on_answer: Callable[[str], None] | None = None  # where a GET similar answer came from: for metrics
        # Option sets whose answers go to the file all processes share (the others stay in memory).
        self.shared_options: frozenset[SimilarOptions] = frozenset({SimilarOptions()})
        # Answers of GET similar, shared with the other processes, kept until a write makes them stale.
        self._answers = AnswerCache(self.data_dir / "answers.sqlite", ANSWER_CACHE_SIZE)
        self._common = from_blob(self.store.get_meta("common_shingles"))

    # -- embedding -----------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = create_embedder(self.model)
            return self._embedder

    def text_of(self, headline: str, body: str) -> str:
        """What is embedded for an article: headline and lead, cut to the model's window."""
        return self.embedder.fit(embedding_text(headline, body, self.lead_words))

    def _embedded(self, texts: Sequence[str], progress: Progress | None = None) -> tuple[list[str], dict[str, np.ndarray], int]:
        """Cache keys and vectors for `texts`, embedding only what the cache lacks.

        Returns the keys (one per text), the vectors by key, and how many texts were embedded.
        """
        keys = [embed_key(self.model, t) for t in texts]
        vectors = self.cache.get_many(keys)
        missing = {k: t for k, t in zip(keys, texts) if k not in vectors}
        if progress:
            progress(len(texts) - len(missing))
        if missing:
            started = time.perf_counter()
            fresh = self.embedder.encode(list(missing.values()), progress)
            if self.on_embed:
                self.on_embed(len(missing), time.perf_counter() - started)
            self.cache.put_many(list(missing), fresh)
            vectors.update(zip(missing, fresh))
        return keys, vectors, len(missing)

    def seed_embeddings(self, path: Path) -> int:
        """Seed the embedding cache from a vectors file of this engine's model (0 if another made it)."""
        return self.cache.seed(Path(path), self.model)

    def embed_draft(self, headline: str, body: str) -> np.ndarray:
        text = self.text_of(headline, body)
        keys, vectors, _ = self._embedded([text])
        return vectors[keys[0]]

    # -- index life cycle ----------------------------------------------------------------

    def _pointer_stamp_now(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.index_root / snapshots.POINTER)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def load(self) -> None:
        """Load the live index version, catch it up with the store's later changes, then swap it in.

        The new index is prepared while the old one keeps answering; the swap is one assignment.
        A damaged live version falls back to an older one, or to an index built from the store.
        """
        stamp = self._pointer_stamp_now()
        try:
            loaded = snapshots.load_live(self.index_root)
        except IndexCorrupt as exc:
            log.error("%s; building the index in memory from the store instead", exc.message)
            seq, rows = self.store.snapshot()
            index = self._index_of(rows)
            meta = None
        else:
            if loaded is None:
                meta, index, seq = None, None, 0
            else:
                meta, index = loaded
                if meta.model != self.model:
                    raise ModelMismatch(
                        f"the index was built with model {meta.model!r} but the service is configured "
                        f"with {self.model!r}; run `python -m service rebuild` to re-embed with {self.model!r}"
                    )
                seq = meta.seq
        replayed = ChangeLog(seq)
        index, seq = self._caught_up(index, seq, replayed)
        common = from_blob(self.store.get_meta("common_shingles"))
        with self._lock:
            self._index, self._meta, self._seq, self._common = index, meta, seq, common
            self._replayed = replayed
            self._pointer_stamp = stamp
            self._loaded = True
            self._index, self._seq = self._caught_up(self._index, self._seq, replayed)

    def sync(self) -> None:
        """Bring the in-memory index up to date: a newer live version, then newer store changes.

        While one thread loads a new version, the others go on answering from the current one.
        """
        if not self._loaded or self._pointer_stamp_now() != self._pointer_stamp:
            if self._load_lock.acquire(blocking=not self._loaded):
                try:
                    if not self._loaded or self._pointer_stamp_now() != self._pointer_stamp:
                        self.load()
                finally:
                    self._load_lock.release()
        if self.store.last_change() != self._seq:
            with self._lock:
                self._index, self._seq = self._caught_up(self._index, self._seq, self._replayed)

    def _caught_up(self, index: VectorIndex | None, since: int, replayed: ChangeLog) -> tuple[VectorIndex | None, int]:
        """Apply the store's changes after `since` to `index`, recording them in `replayed` (old and
        new vectors, which decide the answers they make stale); returns the index (created if needed)
        and the new seq."""
        changes = self.store.changes_since(since)
        changed = changes.current
        old = [(key, index.vector(key) if index is not None else None) for key in changed]
        present = {key: ek for key, ek in changed.items() if ek is not None}
        vectors = self._vectors_for(present)
        if vectors is not None:
            if index is None:
                index = VectorIndex(vectors.shape[1])
            index.upsert(list(present), vectors)
        if index is not None:
            index.remove([key for key, ek in changed.items() if ek is None])
        # Every vector an article had in between counts too: an answer may have been made with any of them.
        wanted = {ek for _, ek in changes.stored_with}
        between = self.cache.get_many(list(wanted))
        if len(between) < len(wanted):  # the cache lost one: trust no older answer
            replayed.forget_before(changes.seq)
        stored = [(key, between.get(ek)) for key, ek in changes.stored_with]
        shown = [(key, index.vector(key) if index is not None else None) for key in changes.display_only]
        rows = old + stored + shown
        replayed.add(changes.seq, [key for key, _ in rows], [vector for _, vector in rows])
        return index, changes.seq

    def _index_of(self, rows: list[StoredArticle]) -> VectorIndex | None:
        """An index of stored articles, from cached vectors (re-embedding any the cache lost)."""
        vectors = self._vectors_for({s.key: s.embed_key for s in rows})
        if vectors is None:
            return None
        index = new_index(vectors.shape[1], vectors)
        index.upsert([s.key for s in rows], vectors)
        return index

    def _vectors_for(self, embed_keys_by_key: dict[int, str]) -> np.ndarray | None:
        """Vectors for stored articles, from the cache, re-embedding any the cache has lost."""
        if not embed_keys_by_key:
            return None
        cached = self.cache.get_many(list(embed_keys_by_key.values()))
        lost = [key for key, ek in embed_keys_by_key.items() if ek not in cached]
        if lost:
            stored = self.store.get_by_keys(lost)
            texts = [self.text_of(s.article.headline, s.article.body) for s in stored.values()]
            _, fresh, _ = self._embedded(texts)
            cached.update(fresh)
            for s, text in zip(stored.values(), texts):
                cached[embed_keys_by_key[s.key]] = fresh[embed_key(self.model, text)]
        return np.stack([cached[ek] for ek in embed_keys_by_key.values()])

    # -- writes --------------------------------------------------------------------------

    def upsert(self, articles: Sequence[Article], progress: Progress | None = None) -> list[str]:
        """Store and index articles (insert or replace by id); returns the ids, each once."""
        unique = [with_language(a) for a in {a.id: a for a in articles}.values()]
        keys, _, _ = self._embedded([self.text_of(a.headline, a.body) for a in unique], progress)
        self.store.upsert(unique, keys, [fingerprint(a.headline, a.body) for a in unique])
        crash_points.reached("ingest:stored")
        self.sync()
        self._link_stories([a.id for a in unique])
        return [a.id for a in unique]

    def _link_stories(self, article_ids: Sequence[str]) -> None:
        for article_id in article_ids:
            self._link_story(article_id)
        self.store.mark_linked(article_ids)

    def repair_links(self) -> int:
        """Link the articles a writer stored but died before linking; returns how many there were."""
        pending = self.store.unlinked_ids()
        if pending:
            log.warning("linking %d articles stored by a writer that stopped before linking them", len(pending))
            self.sync()
            self._link_stories(pending)
        return len(pending)

    def _link_story(self, article_id: str) -> None:
        """Join an article to the stories of its duplicates and near-duplicates (merging them)."""
        stored = self.store.get(article_id)
        if stored is None:  # deleted meanwhile by another writer
            return
        matches = [n for n in self._neighbours(stored.fingerprint, self._vector_of(stored), STORY_CANDIDATES, stored.key)
                   if n.relation.relation in DUPLICATES]
        if not matches:
            return
        members = {m.key: m for m in self.store.story_members([n.story_id for n in matches])}
        members[stored.key] = stored
        name = first_published(list(members.values())).article.id
        self.store.set_stories([(key, name) for key, m in members.items() if m.story_id != name or key == stored.key])

    def reconcile(self, export: Sequence[Article], prune: bool = False, progress: Progress | None = None) -> dict[str, int]:
        """Make the store match a full export from the CMS: new and changed articles are upserted,
        unchanged ones left alone; articles missing from the export are removed only with `prune`."""
        latest = {a.id: with_language(a) for a in export}
        stored = self.store.get_many(list(latest))
        changed = [a for a in latest.values() if a.id not in stored or stored[a.id].article != a]
        for start in range(0, len(changed), 256):
            self.upsert(changed[start : start + 256], progress)
        removed = 0
        if prune:
            for article_id in self.store.all_ids():
                if article_id not in latest:
                    removed += self.store.delete(article_id)
            self.sync()
        return {"upserted": len(changed), "unchanged": len(latest) - len(changed), "removed": removed}

    def delete(self, article_id: str) -> None:
        if not self.store.delete(article_id):
            raise NotFound(f"no article with id {article_id!r}", "id")
        self.sync()

    # -- reads ---------------------------------------------------------------------------

    def get(self, article_id: str) -> StoredArticle:
        stored = self.store.get(article_id)
        if stored is None:
            raise NotFound(f"no article with id {article_id!r}", "id")
        return stored

    def _search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        self.sync()
        with self._lock:
            return self._index.search(vector, k) if self._index is not None else []

    def _vector_of(self, stored: StoredArticle) -> np.ndarray:
        self.sync()
        with self._lock:
            vector = self._index.vector(stored.key) if self._index is not None else None
        if vector is None:
            vector = self.cache.get_many([stored.embed_key]).get(stored.embed_key)
        if vector is None:
            raise EngineError(f"article {stored.article.id!r} has no vector yet")
        return vector

    def _neighbours(self, fp: Fingerprint, vector: np.ndarray, depth: int, exclude_key: int | None) -> list[Neighbour]:
        """The `depth` nearest stored articles (best first) with their relation to the query."""
        hits = [h for h in self._search(vector, depth + 1) if h[0] != exclude_key][:depth]
        # Neighbours need their metadata, fingerprints and a lead (for the why), not whole bodies.
        found = self.store.get_by_keys([key for key, _ in hits], body_chars=NEIGHBOUR_BODY_CHARS)
        query, common = without_common(fp, self._common), self._common
        return [
            Neighbour(found[key], relate(query, without_common(found[key].fingerprint, common), score,
                                         floor=self.related_floor))
            for key, score in hits
            if key in found and found[key].fingerprint is not None
        ]

    def _similar_items(self, query: Query, options: SimilarOptions) -> tuple[list[dict[str, Any]], float]:
        """Pinned items first, then neighbours that pass the filters, re-ranked, collapsed, diversified.

        Searches deeper while filters leave fewer than `k` items and the index holds more. Also returns
        the lowest score among the candidates (-inf when they were every article): see `answers`.
        """
        pins = self._pinned(query)[: options.k]
        wanted = options.k - len(pins)
        skip = options.exclude | {p.article.id for p in pins}
        # Re-ranking (recency, diversity) needs a wider pool than the k nearest; plain similarity does not.
        reranked = options.recency_half_life_days > 0 or options.diversity > 0
        depth, size = (3 * options.k + 20 if reranked else 2 * options.k + 10), self.health_size()
        floor = max(self.related_floor, options.min_score if options.min_score is not None else -1.0)
        while True:
            found = self._neighbours(query.fingerprint, query.vector, depth, query.key)
            kept = [n for n in found if n.article.id not in skip and _passes(n, options, query)]
            ranked = sorted(kept, key=lambda n: -_rank_score(n, options, query))
            if options.duplicates == "include":
                groups = [(n, []) for n in ranked]
            else:  # the query's own duplicates and story are not "similar"; one item per story
                others = [n for n in ranked if n.relation.relation not in DUPLICATES
                          and not (query.story_id and n.story_id == query.story_id)]
                # Shown in the order of the item shown for each story (not of its best member).
                groups = sorted(collapse(others, query.source), key=lambda g: -_rank_score(g[0], options, query))
            # Hits come best first: once the deepest is under the floor, no deeper one can pass.
            if len(groups) >= wanted or depth >= size or (found and found[-1].score < floor):
                break
            depth = min(size, depth * 4)
        if options.diversity and len(groups) > 1:
            pool = groups[: 3 * options.k]
            relevance = np.array([_rank_score(n, options, query) for n, _ in pool])
            picked = mmr(relevance, np.stack([self._vector_of(n.stored) for n, _ in pool]), wanted, options.diversity)
            groups = [pool[i] for i in picked]
        items = [self._item(query, n, pinned=True) for n in pins]
        for chosen, rest in groups[:wanted]:
            item = self._item(query, chosen, pinned=False)
            if options.duplicates == "collapse":
                item["also"] = [n.article.id for n in rest]
            items.append(item)
        # The answer came from the last search's `found`: a later article scoring below its last
        # candidate could not have entered it (-inf when that search held every indexed article).
        return items, (found[-1].score if len(found) >= depth else -math.inf)

    def _item(self, query: Query, neighbour: Neighbour, pinned: bool) -> dict[str, Any]:
        article = neighbour.article
        shared = shared_terms(query.text, f"{article.headline}\n{lead(article.body, WHY_LEAD_WORDS)}")
        return {**neighbour.to_dict(), "pinned": pinned, "shared": shared, "why": explain(neighbour, shared, pinned)}

    def _pinned(self, query: Query) -> list[Neighbour]:
        """The editor's pins of the query article that still exist, in the editor's order."""
        if query.article_id is None:
            return []
        pinned = []
        for stored in self.store.pinned(query.article_id):
            score = float(query.vector @ self._vector_of(stored))
            pinned.append(Neighbour(stored, relate(query.fingerprint, stored.fingerprint, score, self._common, self.related_floor)))
        return pinned

    def health_size(self) -> int:
        with self._lock:
            return len(self._index) if self._index is not None else 0

    def _query_of(self, stored: StoredArticle) -> Query:
        article = stored.article
        return Query(stored.fingerprint, self._vector_of(stored), stored.key, article.id, stored.story_id,
                     article.source, article.published_at, f"{article.headline}\n{lead(article.body, WHY_LEAD_WORDS)}")

    def similar(self, article_id: str, options: SimilarOptions | None = None, **overrides: Any) -> dict[str, Any]:
        """The stored articles most similar to a stored one, best first, never itself.

        By default the article's own duplicates are left out and near-duplicates among the results
        collapse into one item carrying `also`; `duplicates="include"` shows every item instead.
        Keyword overrides (k=5, section="sport" ...) are checked like request parameters.
        """
        body, source = self._answer(article_id, options_from(overrides, options or SimilarOptions(), {}))
        if self.on_answer:
            self.on_answer(source)
        return body

    def _answer(self, article_id: str, options: SimilarOptions) -> tuple[dict[str, Any], str]:
        """The GET similar answer, from the answer cache while it is current, and where it came from:
        "memory" (this process's), "shared" (the file every process shares) or "computed"."""
        self.sync()
        with self._lock:
            version, seq, replayed = self._answers_version(), self._seq, self._replayed
        filed, shared = options_key(options), self._meta is not None and options in self.shared_options
        cached, source = self._answers.get(version, article_id, filed, shared)
        if cached is not None and replayed.still_current(cached, self._indexed_vector(cached.key)):
            return cached.body, source
        stored = self.get(article_id)
        items, threshold = self._similar_items(self._query_of(stored), options)
        body = {"article": {"id": stored.article.id, "headline": stored.article.headline, "story_id": stored.story_id,
                            "language": stored.article.language},
                "items": items}
        with self._lock:
            swapped = self._answers_version() != version  # a new version came in meanwhile: do not file
        if not swapped:
            self._answers.put(version, article_id, filed, Answer(body, stored.key, threshold, seq), shared)
        return body, "computed"

    def _answers_version(self) -> str:
        """What answers are filed under: the index version, the floor and the answer format ("memory"
        for an index built in memory, whose answers this process keeps to itself)."""
        return f"{self._meta.version}@{self.related_floor:g}#{ANSWERS_FORMAT}" if self._meta else "memory"

    def _indexed_vector(self, key: int) -> np.ndarray | None:
        with self._lock:
            return self._index.vector(key) if self._index is not None else None

    def warm(self, option_sets: Sequence[SimilarOptions], newest: int, progress: Progress | None = None) -> int:
        """Compute the GET similar answers of the `newest` articles (by publication) for each option
        set, skipping those still current, into the shared answer file, after forgetting other
        versions' answers. Older articles get theirs at their first request.

        Returns how many answers were computed.
        """
        self.sync()
        with self._lock:
            version, indexed = self._answers_version(), self._meta is not None
        if not indexed:  # no version yet: nothing to share
            return 0
        self.shared_options |= frozenset(option_sets)
        self._answers.keep_only(version)
        computed = 0
        for article_id in self.store.newest_ids(newest):
            for options in option_sets:
                try:
                    computed += self._answer(article_id, options)[1] == "computed"
                except NotFound:  # deleted meanwhile
                    pass
            if computed >= WARM_CRASH_AFTER:
                crash_points.reached("rebuild:warming")
            if progress:
                progress(1)
        return computed

    def similar_to_text(self, headline: str, body: str = "", options: SimilarOptions | None = None,
                        **overrides: Any) -> dict[str, Any]:
        """The stored articles most similar to a text that is not stored (an editor's draft)."""
        options = options_from(overrides, options or SimilarOptions(), {})
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = Query(fingerprint(headline, body), self.embed_draft(headline, body), None, None, None, None, now,
                      f"{headline}\n{lead(body, WHY_LEAD_WORDS)}")
        return {"article": {"id": None, "headline": headline}, "items": self._similar_items(query, options)[0]}

    def pins(self, article_id: str) -> dict[str, Any]:
        self.get(article_id)
        return {"article_id": article_id, "ids": [s.article.id for s in self.store.pinned(article_id)]}

    def set_pins(self, article_id: str, ids: Any) -> dict[str, Any]:
        """Pin stored articles (in this order) at the top of an article's similar stories."""
        self.get(article_id)
        if not isinstance(ids, list) or len(ids) > MAX_PINS or not all(valid_id(i) for i in ids):
            raise InvalidInput(f"'ids' must be a list of at most {MAX_PINS} article ids", "ids")
        if article_id in ids:
            raise InvalidInput("an article cannot be pinned to itself", "ids")
        unique = list(dict.fromkeys(ids))
        known = self.store.get_many(unique)
        unknown = [i for i in unique if i not in known]
        if unknown:
            raise InvalidInput(f"'ids' holds unknown article ids: {', '.join(unknown[:5])}", "ids")
        self.store.set_pins(article_id, unique)
        return {"article_id": article_id, "ids": unique}

    def clear_pins(self, article_id: str) -> None:
        self.get(article_id)
        self.store.set_pins(article_id, [])

    def duplicates(self, article_id: str) -> dict[str, Any]:
        """Stored duplicates and near-duplicates of a stored article (its story and its neighbours)."""
        stored = self.get(article_id)
        vector = self._vector_of(stored)
        found = {n.key: n for n in self._neighbours(stored.fingerprint, vector, DUPLICATE_CANDIDATES, stored.key)}
        for member in self.store.story_members([stored.story_id]):
            if member.key != stored.key and member.key not in found and member.fingerprint is not None:
                score = float(vector @ self._vector_of(member))
                found[member.key] = Neighbour(member, relate(stored.fingerprint, member.fingerprint, score, self._common, self.related_floor))
        return {"article": {"id": stored.article.id, "headline": stored.article.headline, "story_id": stored.story_id},
                "items": _duplicate_items(found.values())}

    def duplicates_of_text(self, headline: str, body: str = "") -> dict[str, Any]:
        """Has this draft already run? Its stored duplicates and near-duplicates."""
        found = self._neighbours(fingerprint(headline, body), self.embed_draft(headline, body), DUPLICATE_CANDIDATES, None)
        return {"article": {"id": None, "headline": headline}, "items": _duplicate_items(found)}

    def compare(self, a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
        """The relation of two texts, each (headline, body), with score and overlap."""
        vector_a, vector_b = self.embed_draft(*a), self.embed_draft(*b)
        result = relate(fingerprint(*a), fingerprint(*b), float(vector_a @ vector_b), self._common, self.related_floor)
        return {**result.to_dict(), "compared": result.compared}

    def list_articles(self, text: str = "", limit: int = 20, offset: int = 0) -> dict[str, Any]:
        total, rows = self.store.search_headlines(text, limit, offset)
        return {"total": total, "items": [public_fields(s) for s in rows]}

    def health(self) -> dict[str, Any]:
        self.sync()
        with self._lock:
            indexed = len(self._index) if self._index is not None else 0
            index_kind = self._index.kind if self._index is not None else None
            meta = self._meta
        return {
            "articles": self.store.count(),
            "indexed": indexed,
            "model": self.model,
            "index_version": meta.version if meta else None,
            "index_built_at": meta.built_at if meta else None,
            "index_type": index_kind,
        }

    # -- rebuild -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once an index (or the knowledge that there is none yet) is loaded."""
        return self._loaded

    def last_rebuild(self) -> dict[str, Any] | None:
        """{"seconds", "ok", "at"} of the last rebuild of this data folder, by any process."""
        raw = self.store.get_meta("last_rebuild")
        return json.loads(raw) if raw else None

    def rebuild(self, stages: Stages | None = None) -> RebuildSummary:
        """Re-embed (through the cache) every stored article into a new index version and make it live.

        Only one rebuild runs at a time per data folder; the live index serves throughout. `stages`
        hears of each stage (`embed`, then `link` for the story groups) with its number of articles.
        """
        started = time.monotonic()
        try:
            summary = self._rebuild(started, stages or (lambda name, size: _no_progress))
        except RebuildBusy:
            raise  # the running one records its own outcome
        except Exception:
            self._record_rebuild(started, ok=False)
            raise
        self._record_rebuild(started, ok=True)
        return summary

    def _record_rebuild(self, started: float, ok: bool) -> None:
        record = {"seconds": round(time.monotonic() - started, 3), "ok": ok, "at": time.time()}
        self.store.set_meta("last_rebuild", json.dumps(record).encode())

    def _rebuild(self, started: float, stages: Stages) -> RebuildSummary:
        self.index_root.mkdir(parents=True, exist_ok=True)
        with open(self.index_root / ".rebuild.lock", "w") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RebuildBusy("another rebuild is running on this data folder")
            seq, rows = self.store.snapshot()
            texts = [self.text_of(s.article.headline, s.article.body) for s in rows]
            keys, vectors, embedded = self._embedded(texts, stages("embed", len(rows)))
            crash_points.reached("rebuild:embedded")
            if rows:
                matrix = np.stack([vectors[k] for k in keys])
                index = new_index(matrix.shape[1], matrix)
                index.upsert([s.key for s in rows], matrix)
            else:
                index, matrix = VectorIndex(self.embedder.dim), np.empty((0, self.embedder.dim), dtype=np.float32)
            self._self_check(index, rows, matrix)
            self.store.set_embed_keys([(s.key, k) for s, k in zip(rows, keys) if s.embed_key != k])
            rows = self._with_fingerprints(rows)
            common = common_shingles(
                [np.union1d(s.fingerprint.body_shingles, s.fingerprint.headline_shingles) for s in rows],
                COMMON_SHINGLE_ARTICLES,
            )
            self.store.set_meta("common_shingles", to_blob(common))
            self._common = common
            stories = self._stories(index, rows, common, stages("link", len(rows)))
            self.store.set_stories([(s.key, story) for s, story in zip(rows, stories) if s.story_id != story])
            meta = snapshots.write_snapshot(self.index_root, index, self.model, seq)
            crash_points.reached("rebuild:switched")
            snapshots.prune(self.index_root, self.keep_versions)
            kept = [snapshots.read_meta(self.index_root, v) for v in snapshots.versions(self.index_root)]
            self.store.forget_changes_before(min(m.seq for m in kept if m is not None))
        self.sync()
        self._answers.keep_only(self._answers_version())
        return RebuildSummary(
            articles=len(rows),
            embedded=embedded,
            cached=len(rows) - embedded,
            seconds=time.monotonic() - started,
            version=meta.version,
            index_type=index.kind,
        )

    def _with_fingerprints(self, rows: list[StoredArticle]) -> list[StoredArticle]:
        """Rows with a fingerprint each, computing and storing those missing (data from before them)."""
        missing = [(s.key, fingerprint(s.article.headline, s.article.body)) for s in rows if s.fingerprint is None]
        self.store.set_fingerprints(missing)
        computed = dict(missing)
        return [replace(s, fingerprint=computed[s.key]) if s.key in computed else s for s in rows]

    @staticmethod
    def _stories(index: VectorIndex, rows: list[StoredArticle], common: np.ndarray, progress: Progress) -> list[str]:
        """Story ids for all rows: groups of articles linked by text reuse among their nearest neighbours."""
        if not rows:
            return []
        position = {s.key: i for i, s in enumerate(rows)}
        cleaned = [without_common(s.fingerprint, common) for s in rows]
        vectors = np.stack([index.vector(s.key) for s in rows])
        scores, keys = index.faiss_index.search(vectors, min(STORY_CANDIDATES + 1, len(rows)))
        links = []
        for i in range(len(rows)):
            for key, score in zip(keys[i], scores[i]):
                j = position.get(int(key))
                if j is not None and j != i and relate(cleaned[i], cleaned[j], float(score)).relation in DUPLICATES:
                    links.append((i, j))
            progress(1)
        roots = connected_groups(len(rows), links)
        groups: dict[int, list[StoredArticle]] = {}
        for i, root in enumerate(roots):
            groups.setdefault(root, []).append(rows[i])
        name = {root: first_published(members).article.id for root, members in groups.items()}
        return [name[root] for root in roots]

    @staticmethod
    def _self_check(index: VectorIndex, rows: list[StoredArticle], vectors: np.ndarray) -> None:
        """A sample of articles, searched with their own vectors, must find themselves first (ties with
        exact copies allowed): an approximate index that misses them, or keys mixed up, fail here."""
        if len(index) != len(rows):
            raise EngineError(f"new index holds {len(index)} vectors for {len(rows)} articles")
        step = max(1, len(rows) // SELF_CHECK_SAMPLE)
        for i in range(0, len(rows), step):
            if not index.finds_itself(rows[i].key, vectors[i]):
                raise EngineError(f"self-check failed: article {rows[i].article.id!r} does not find itself first")


def _passes(n: Neighbour, o: SimilarOptions, query: Query) -> bool:
    """Whether a neighbour passes the request's filters (the related floor always applies)."""
    a = n.article
    if n.relation.relation == "unrelated" or (o.min_score is not None and n.score < o.min_score):
        return False
    if o.language and not _language_matches(a.language, o.language):
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


def _language_matches(language: str | None, wanted: str) -> bool:
    """`ar` matches `ar`, `ar-TN`, `AR-tn`; `ar-TN` matches only `ar-TN` (in any case)."""
    if not language:
        return False
    if "-" in wanted:
        return language.lower() == wanted.lower()
    return primary_subtag(language) == wanted.lower()


def _rank_score(n: Neighbour, o: SimilarOptions, query: Query) -> float:
    return n.score * recency_factor(days_between(query.published_at, n.article.published_at), o.recency_half_life_days)


def explain(n: Neighbour, shared: list[str], pinned: bool) -> str:
    """One line for an editor: why this item is in the list."""
    arabic = any("\u0600" <= ch <= "\u06ff" for term in shared for ch in term)
    parts = ["pinned by an editor"] if pinned else []
    parts.append(f"{n.relation.relation.replace('_', '-')}, score {n.score:.2f}")
    if n.relation.overlap >= 0.1:
        parts.append(f"{n.relation.overlap:.0%} of the text shared")
    if shared:
        parts.append("shared: " + ("، " if arabic else ", ").join(shared))
    return "; ".join(parts)


def with_language(article: Article) -> Article:
    """The article with its language detected from the text when the CMS did not give one."""
    if article.language:
        return article
    return replace(article, language=detect_language(f"{article.headline} {article.body[:1000]}"))


def _duplicate_items(found: Iterable[Neighbour]) -> list[dict[str, Any]]:
    """Duplicates first, then near-duplicates by overlap, then score."""
    order = {"duplicate": 0, "near_duplicate": 1}
    kept = [n for n in found if n.relation.relation in order]
    kept.sort(key=lambda n: (order[n.relation.relation], -n.relation.overlap, -n.relation.score))
    return [n.to_dict() for n in kept]


def public_fields(stored: StoredArticle) -> dict[str, Any]:
    """What clients see of an article in lists and similar items."""
    article = stored.article
    return {
        "id": article.id,
        "headline": article.headline,
        "url": article.url,
        "source": article.source,
        "published_at": article.published_at,
        "section": article.section,
        "language": article.language,
        "story_id": stored.story_id,
    }

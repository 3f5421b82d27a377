"""The engine: store, embedding cache, embedder and vector index working as one.

Writes go to the store first (the source of truth) and reach the index through the store's change
log, so that every process serving the same data folder converges on the same index.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import snapshots
from .article import Article
from .embedders import DEFAULT_MODEL, Embedder, create_embedder
from .embedding_cache import EmbeddingCache, embed_key
from .errors import EngineError, InvalidInput, ModelMismatch, NotFound
from .similar import relation, top_neighbours
from .store import ArticleStore, StoredArticle
from .text import detect_language, embedding_text
from .vectors import VectorIndex

log = logging.getLogger(__name__)

MAX_K = 100
SELF_CHECK_SAMPLE = 20
Progress = Callable[[int], None]


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


def check_k(k: int, field: str = "k") -> int:
    if not 1 <= k <= MAX_K:
        raise InvalidInput(f"'{field}' must be between 1 and {MAX_K}", field)
    return k


class Engine:
    """Similar-stories search over the articles of one data folder.

    Args:
        data_dir: folder holding the SQLite store and the index versions.
        model: embedder name (see `create_embedder`); recorded with every index version.
        lead_words: how many words of the body are embedded after the headline.
        embedding_cache: path of the embedding cache (default: inside `data_dir`).
        keep_versions: how many index versions a rebuild keeps on disk.
        embedder: an already-built embedder (tests share one); must match `model`.
    """

    def __init__(
        self,
        data_dir: Path | str,
        model: str = DEFAULT_MODEL,
        lead_words: int = 100,
        embedding_cache: Path | str | None = None,
        keep_versions: int = 3,
        embedder: Embedder | None = None,
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
        self.index_root = self.data_dir / "index"
        self.store = ArticleStore(self.data_dir / "articles.sqlite")
        self.cache = EmbeddingCache(Path(embedding_cache) if embedding_cache else self.data_dir / "embeddings.sqlite")
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._lock = threading.RLock()
        self._index: VectorIndex | None = None
        self._meta: snapshots.SnapshotMeta | None = None
        self._seq = 0
        self._pointer_stamp: tuple[int, int] | None = None
        self._loaded = False

    # -- embedding -----------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = create_embedder(self.model)
            return self._embedder

    def text_of(self, headline: str, body: str) -> str:
        return embedding_text(headline, body, self.lead_words)

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
            fresh = self.embedder.encode(list(missing.values()), progress)
            self.cache.put_many(list(missing), fresh)
            vectors.update(zip(missing, fresh))
        return keys, vectors, len(missing)

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
        """Load the live index version and replay the store's changes made after it."""
        with self._lock:
            stamp = self._pointer_stamp_now()
            loaded = snapshots.load_live(self.index_root)
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
            self._index, self._meta, self._seq = index, meta, seq
            self._pointer_stamp = stamp
            self._loaded = True
            self._apply_changes()

    def sync(self) -> None:
        """Bring the in-memory index up to date: a newer live version, then newer store changes."""
        if not self._loaded or self._pointer_stamp_now() != self._pointer_stamp:
            self.load()
        elif self.store.last_change() != self._seq:
            with self._lock:
                self._apply_changes()

    def _apply_changes(self) -> None:
        seq, changed = self.store.changes_since(self._seq)
        present = {key: ek for key, ek in changed.items() if ek is not None}
        vectors = self._vectors_for(present)
        if vectors is not None:
            if self._index is None:
                self._index = VectorIndex(vectors.shape[1])
            self._index.upsert(list(present), vectors)
        if self._index is not None:
            self._index.remove([key for key, ek in changed.items() if ek is None])
        self._seq = seq

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
        latest = {a.id: a for a in articles}
        unique = [
            a if a.language else replace(a, language=detect_language(f"{a.headline} {a.body[:1000]}"))
            for a in latest.values()
        ]
        keys, _, _ = self._embedded([self.text_of(a.headline, a.body) for a in unique], progress)
        self.store.upsert(unique, keys)
        self.sync()
        return [a.id for a in unique]

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

    def _items(self, hits: Iterable[tuple[int, float]], exclude: set[int], k: int, embed_key_of_query: str) -> list[dict[str, Any]]:
        hits = top_neighbours(hits, exclude, len(exclude) + k + 5)
        found = self.store.get_by_keys([key for key, _ in hits])
        items = []
        for key, score in hits:
            stored = found.get(key)
            if stored is None:  # deleted after the search: skip rather than show a dead link
                continue
            items.append(
                {
                    **public_fields(stored.article),
                    "score": round(score, 4),
                    "relation": relation(score, stored.embed_key == embed_key_of_query),
                }
            )
            if len(items) == k:
                break
        return items

    def similar(self, article_id: str, k: int = 10) -> dict[str, Any]:
        """The stored articles most similar to a stored one, best first, never itself."""
        check_k(k)
        stored = self.get(article_id)
        self.sync()
        with self._lock:
            vector = self._index.vector(stored.key) if self._index is not None else None
        if vector is None:
            vector = self.cache.get_many([stored.embed_key]).get(stored.embed_key)
        if vector is None:
            raise EngineError(f"article {article_id!r} has no vector yet")
        hits = self._search(vector, k + 6)
        return {
            "article": {"id": stored.article.id, "headline": stored.article.headline},
            "items": self._items(hits, {stored.key}, k, stored.embed_key),
        }

    def similar_to_text(self, headline: str, body: str = "", k: int = 10) -> dict[str, Any]:
        """The stored articles most similar to a text that is not stored (an editor's draft)."""
        check_k(k)
        text = self.text_of(headline, body)
        vector = self.embed_draft(headline, body)
        hits = self._search(vector, k + 5)
        return {"article": {"id": None, "headline": headline}, "items": self._items(hits, set(), k, embed_key(self.model, text))}

    def list_articles(self, text: str = "", limit: int = 20, offset: int = 0) -> dict[str, Any]:
        total, rows = self.store.search_headlines(text, limit, offset)
        return {"total": total, "items": [public_fields(s.article) for s in rows]}

    def health(self) -> dict[str, Any]:
        self.sync()
        with self._lock:
            indexed = len(self._index) if self._index is not None else 0
            meta = self._meta
        return {
            "articles": self.store.count(),
            "indexed": indexed,
            "model": self.model,
            "index_version": meta.version if meta else None,
            "index_built_at": meta.built_at if meta else None,
        }

    # -- rebuild -------------------------------------------------------------------------

    def rebuild(self, progress: Progress | None = None, total: Callable[[int], None] | None = None) -> RebuildSummary:
        """Re-embed (through the cache) every stored article into a new index version and make it live.

        Only one rebuild runs at a time per data folder; the live index serves throughout.
        """
        started = time.monotonic()
        self.index_root.mkdir(parents=True, exist_ok=True)
        with open(self.index_root / ".rebuild.lock", "w") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise EngineError("another rebuild is running on this data folder")
            seq, rows = self.store.snapshot()
            if total:
                total(len(rows))
            texts = [self.text_of(s.article.headline, s.article.body) for s in rows]
            keys, vectors, embedded = self._embedded(texts, progress)
            dim = self.embedder.dim if not vectors else len(next(iter(vectors.values())))
            index = VectorIndex(dim)
            if rows:
                index.upsert([s.key for s in rows], np.stack([vectors[k] for k in keys]))
            self._self_check(index, rows)
            self.store.set_embed_keys([(s.key, k) for s, k in zip(rows, keys) if s.embed_key != k])
            meta = snapshots.write_snapshot(self.index_root, index, self.model, seq)
            snapshots.prune(self.index_root, self.keep_versions)
            kept = [snapshots.read_snapshot(self.index_root, v)[0].seq for v in snapshots.versions(self.index_root)]
            self.store.forget_changes_before(min(kept))
        self.sync()
        return RebuildSummary(
            articles=len(rows),
            embedded=embedded,
            cached=len(rows) - embedded,
            seconds=time.monotonic() - started,
            version=meta.version,
            index_type="flat",
        )

    @staticmethod
    def _self_check(index: VectorIndex, rows: list[StoredArticle]) -> None:
        """A sample of articles must find themselves at the top (ties with exact copies allowed)."""
        if len(index) != len(rows):
            raise EngineError(f"new index holds {len(index)} vectors for {len(rows)} articles")
        step = max(1, len(rows) // SELF_CHECK_SAMPLE)
        for stored in rows[::step]:
            vector = index.vector(stored.key)
            hits = index.search(vector, 1)
            own = float(np.dot(vector, vector))
            if not hits or hits[0][1] > own + 1e-4:
                raise EngineError(f"self-check failed: article {stored.article.id!r} does not find itself first")


def public_fields(article: Article) -> dict[str, Any]:
    """What clients see of an article in lists and similar items."""
    return {
        "id": article.id,
        "headline": article.headline,
        "url": article.url,
        "source": article.source,
        "published_at": article.published_at,
        "section": article.section,
        "language": article.language,
    }

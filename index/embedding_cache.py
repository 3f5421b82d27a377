"""Vectors by the hash of (model, exact embedded text): an unchanged article is never embedded twice.

A vectors file (`.vectors.npz`) carries a model's vectors for a known corpus, such as the bundled
sample, so that a fresh cache can be seeded with them instead of embedding that corpus again.
"""
from __future__ import annotations

import hashlib
import threading
import unicodedata
from pathlib import Path
from typing import Sequence

import numpy as np

from .sqlite import connect, rows_in, transaction


def embed_key(model: str, text: str) -> str:
    """The cache key of one text under one model.

    A text that NFKC changes is keyed apart: the embedder reads it normalised (see `Embedder.fit`)
    since hardening, and a vector cached before then was made from the text as written.
    """
    salt = "" if unicodedata.is_normalized("NFKC", text) else "\x00nfkc"
    return hashlib.sha256(f"{model}\x00{text}{salt}".encode("utf-8")).hexdigest()


def write_vectors_file(path: Path, model: str, keys: Sequence[str], vectors: np.ndarray) -> None:
    """Save vectors with their cache keys and model name (float16: a cosine error under 1e-5)."""
    digests = np.frombuffer(b"".join(bytes.fromhex(k) for k in keys), dtype=np.uint8).reshape(-1, 32)
    with open(path, "wb") as f:  # np.savez would add ".npz" to a name that lacks it
        np.savez_compressed(f, model=np.array(model), keys=digests, vectors=np.asarray(vectors, dtype=np.float16))


def read_vectors_file(path: Path) -> tuple[str, list[str], np.ndarray]:
    """(model, cache keys, float32 unit vectors) of a file written by `write_vectors_file`."""
    with np.load(path, allow_pickle=False) as data:
        model = str(data["model"])
        keys = [row.tobytes().hex() for row in data["keys"]]
        vectors = data["vectors"].astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return model, keys, vectors / np.maximum(norms, 1e-12)


class EmbeddingCache:
    """A SQLite table of float32 vectors; safe to share between data folders and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        sql = "SELECT key, vector FROM embeddings WHERE key IN ({marks})"
        with self._lock:
            rows = rows_in(self._conn, sql, list(dict.fromkeys(keys)))
            return {key: np.frombuffer(blob, dtype=np.float32) for key, blob in rows}

    def put_many(self, keys: Sequence[str], vectors: np.ndarray, replace: bool = True) -> None:
        """Store vectors by key; with `replace=False` a key already cached keeps its vector."""
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        then = "DO UPDATE SET vector = excluded.vector" if replace else "DO NOTHING"
        with transaction(self._conn, self._lock) as conn:
            conn.executemany(f"INSERT INTO embeddings (key, vector) VALUES (?, ?) ON CONFLICT(key) {then}", rows)

    def seed(self, path: Path, model: str) -> int:
        return seed_from_file(self, path, model)


def seed_from_file(cache: "EmbeddingCache", path: Path, model: str) -> int:
    """Add the vectors of a vectors file made with `model` to a cache (none if another model made it).

    Returns how many vectors the file holds for `model`; vectors already cached are kept.
    """
    file_model, keys, vectors = read_vectors_file(path)
    if file_model != model:
        return 0
    cache.put_many(keys, vectors, replace=False)
    return len(keys)

"""Vectors by the hash of (model, exact embedded text): an unchanged article is never embedded twice.

A vectors file (`.vectors.npz`) carries a model's vectors for a known corpus, such as the bundled
sample, so that a fresh cache can be seeded with them instead of embedding that corpus again.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from .store import connect


def embed_key(model: str, text: str) -> str:
    """The cache key of one text under one model."""
    return hashlib.sha256(f"{model}\x00{text}".encode("utf-8")).hexdigest()


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
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in self._conn.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[str], vectors: np.ndarray, replace: bool = True) -> None:
        """Store vectors by key; with `replace=False` a key already cached keeps its vector."""
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(f"{verb} INTO embeddings (key, vector) VALUES (?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def seed(self, path: Path, model: str) -> int:
        """Add the vectors of a vectors file made with `model` (none if another model made it).

        Returns how many vectors the file holds for `model`; vectors already cached are kept.
        """
        file_model, keys, vectors = read_vectors_file(path)
        if file_model != model:
            return 0
        self.put_many(keys, vectors, replace=False)
        return len(keys)

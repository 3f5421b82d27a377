"""Vectors by the hash of (model, exact embedded text): an unchanged article is never embedded twice.

A vectors file (`.vectors.npz`) carries a model's vectors for a known corpus, such as the bundled
sample, so that a fresh cache can be seeded with them instead of embedding that corpus again. It is
keyed by cache key (`keys`: what `write_vectors_file` writes) or by article id (`ids`: what a
publisher's own embedding job writes, see `read_id_vectors`).
"""
from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..sqlite import open_cache_file, rows_in, transaction


def embed_key(model: str, text: str) -> str:
    """The cache key of one text under one model.

    A text that NFKC changes is keyed apart: the embedder reads it normalised (see `Embedder.fit`)
    since hardening, and a vector cached before then was made from the text as written.
    """
    salt = "" if unicodedata.is_normalized("NFKC", text) else "\x00nfkc"
    return hashlib.sha256(f"{model}\x00{text}{salt}".encode()).hexdigest()


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


def is_id_keyed(path: Path) -> bool:
    """Whether a vectors file is keyed by article id (`ids`) rather than by cache key (`keys`)."""
    with np.load(path, allow_pickle=False) as data:
        return "ids" in data.files


@dataclass(frozen=True)
class IdVectors:
    """The vectors of an id-keyed file, checked: row `position[id]` of `vectors` (as stored) is that
    article's vector."""

    model: str
    position: dict[str, int]
    vectors: np.ndarray

    def unit(self, ids: Sequence[str]) -> np.ndarray:
        """The float32 vectors of these ids, scaled to unit length."""
        rows = self.vectors[[self.position[i] for i in ids]].astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def read_id_vectors(path: Path, model: str, dim: int) -> IdVectors:
    """Read and check an id-keyed vectors file: arrays `ids` (n strings), `vectors` (n x `dim`
    floats, finite, none all zero; they are scaled to unit length when read) and `model` (the name
    of the model that made them, which must be `model`).

    Raises:
        ValueError: naming what is wrong with the file.
    """
    with np.load(path, allow_pickle=False) as data:
        absent = [name for name in ("ids", "vectors", "model") if name not in data.files]
        if absent:
            raise ValueError(f"lacks the array(s) {', '.join(absent)} (an id-keyed vectors file holds ids, "
                             "vectors and model)")
        file_model, ids, vectors = str(data["model"]), data["ids"], data["vectors"]
    if file_model != model:
        raise ValueError(f"made with model {file_model!r}, but this service embeds with {model!r}")
    if ids.ndim != 1 or ids.dtype.kind != "U":
        raise ValueError(f"'ids' must be a 1-d array of strings, got {ids.dtype} of shape {ids.shape}")
    if vectors.ndim != 2 or vectors.dtype.kind != "f":
        raise ValueError(f"'vectors' must be a 2-d float array (n x d), got {vectors.dtype} of shape {vectors.shape}")
    if len(ids) != len(vectors):
        raise ValueError(f"holds {len(ids)} ids but {len(vectors)} vectors")
    if vectors.shape[1] != dim:
        raise ValueError(f"vectors have {vectors.shape[1]} dimensions, model {model!r} makes {dim}")
    for start in range(0, len(vectors), 100_000):  # in parts: float32 copies of a million rows are 1.5 GB
        part = vectors[start : start + 100_000].astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(part).all(axis=1))
        if len(bad):
            raise ValueError(f"the vector of id {ids[start + bad[0]]!r} is not finite (NaN or infinite)")
        zero = np.flatnonzero(np.linalg.norm(part, axis=1) < 1e-6)
        if len(zero):
            raise ValueError(f"the vector of id {ids[start + zero[0]]!r} is zero")
    position = {str(i): n for n, i in enumerate(ids.tolist())}
    if len(position) != len(ids):
        repeated = next(i for i, n in zip(ids.tolist(), range(len(ids))) if position[i] != n)
        raise ValueError(f"id {repeated!r} is listed more than once")
    return IdVectors(file_model, position, vectors)


SCHEMA = "CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL);"


class EmbeddingCache:
    """A SQLite table of float32 vectors; safe to share between data folders and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = open_cache_file(self.path, SCHEMA, "embedding cache")
        self._lock = threading.Lock()

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


def seed_from_file(cache: EmbeddingCache, path: Path, model: str) -> int:
    """Add the vectors of a vectors file made with `model` to a cache (none if another model made it).

    Returns how many vectors the file holds for `model`; vectors already cached are kept.
    """
    file_model, keys, vectors = read_vectors_file(path)
    if file_model != model:
        return 0
    cache.put_many(keys, vectors, replace=False)
    return len(keys)

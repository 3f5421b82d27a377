"""The embedding cache in the shared PostgreSQL database: a vector embedded by one machine is never
embedded again by another."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..embedding.cache import seed_from_file
from .postgres import transaction


class PostgresEmbeddingCache:
    """The embedding cache (see `embedding.cache.EmbeddingCache`) in the shared database."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def close(self) -> None:
        """The pool is the store's: it closes it."""

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT key, vector FROM embeddings WHERE key = ANY(%s)", (list(dict.fromkeys(keys)),))
            return {r["key"]: np.frombuffer(r["vector"], dtype=np.float32) for r in rows}

    def put_many(self, keys: Sequence[str], vectors: np.ndarray, replace: bool = True) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        then = "DO UPDATE SET vector = excluded.vector" if replace else "DO NOTHING"
        with transaction(self._pool) as conn, conn.cursor() as cur:
            cur.executemany(f"INSERT INTO embeddings (key, vector) VALUES (%s, %s) ON CONFLICT (key) {then}", rows)

    def seed(self, path: Path, model: str) -> int:
        return seed_from_file(self, path, model)

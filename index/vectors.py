"""The FAISS vector index: inner product on unit vectors (cosine), keyed by the store's integer keys."""
from __future__ import annotations

from typing import Sequence

import faiss
import numpy as np

# One query at a time is our workload (a request, or one article being linked); FAISS's OpenMP team
# costs more than it saves there, and much more when the cores are busy: measured 8x faster for
# single-query search of 30k vectors on 2 busy cores, and no slower for a 3,000-query batch.
# Parallelism comes from concurrent requests and server workers instead.
faiss.omp_set_num_threads(1)


class VectorIndex:
    """Exact inner-product search over unit vectors, with add-or-replace and remove by key."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if self._index.d != dim:
            raise ValueError(f"index dimension {self._index.d} does not match {dim}")

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def faiss_index(self) -> faiss.Index:
        return self._index

    def remove(self, keys: Sequence[int]) -> None:
        if len(keys):
            self._index.remove_ids(np.asarray(keys, dtype=np.int64))

    def upsert(self, keys: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under `keys`, replacing any vector already stored under the same key."""
        if not len(keys):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        self.remove(keys)
        self._index.add_with_ids(vectors, np.asarray(keys, dtype=np.int64))

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The `k` nearest keys to one vector, best first, as (key, cosine score)."""
        k = min(k, len(self))
        if k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        scores, keys = self._index.search(query, k)
        return [(int(key), float(score)) for key, score in zip(keys[0], scores[0]) if key != -1]

    def vector(self, key: int) -> np.ndarray | None:
        """The stored vector of one key, or None."""
        try:
            return self._index.reconstruct(int(key))
        except RuntimeError:
            return None

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self._index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "VectorIndex":
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        return cls(index.d, index)

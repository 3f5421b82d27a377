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


# Exact search up to this many articles; an inverted-file index (IVF) beyond. bench/ann_scaling.py on
# 2 cores: exact search costs 13.7 ms a query at 100k and 133 ms at 1M (1,544 bytes an article).
FLAT_MAX = 200_000


def ivf_lists(count: int) -> int:
    """Inverted lists for `count` vectors: about 4 * sqrt(n), the FAISS guideline."""
    return max(16, int(4 * np.sqrt(count)))


def ivf_probes(lists: int) -> int:
    """Lists searched per query, for recall@10 >= 0.95 against exact search.

    Measured (bench/ann_scaling.py): 4,000 lists at 1M need 256 probes for 0.96 (24 ms, 5.5x faster
    than exact), 1,264 lists at 100k reach 1.0 with 8; one sixteenth of the lists covers both.
    """
    return max(32, lists // 16)


def new_index(dim: int, vectors: np.ndarray, force: str | None = None) -> "VectorIndex":
    """An empty index suited to `vectors` (which train it when approximate): Flat or IVF by size."""
    kind = force or ("flat" if len(vectors) <= FLAT_MAX else "ivf")
    if kind == "flat":
        return VectorIndex(dim)
    if kind != "ivf":
        raise ValueError(f"Unknown index kind: {kind!r}")
    nlist = ivf_lists(len(vectors))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.RandomState(0).permutation(len(vectors))[: nlist * 64]]
    ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
    ivf.nprobe = ivf_probes(nlist)
    # IVF keeps our keys itself; a hash-table direct map makes reconstruct and remove work by key.
    # (IndexIDMap2 around IVF would be wrong: its remove assumes the inner index renumbers.)
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    return VectorIndex(dim, ivf)


class VectorIndex:
    """Inner-product search over unit vectors, with add-or-replace and remove by key."""

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

    @property
    def kind(self) -> str:
        """`flat` (exact) or `ivf` (approximate)."""
        return "ivf" if faiss.try_extract_index_ivf(self._index) is not None else "flat"

    def set_nprobe(self, nprobe: int) -> None:
        faiss.extract_index_ivf(self._index).nprobe = nprobe

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

    def search_many(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest keys to each row of `vectors`: (scores, keys) arrays, -1 for no key."""
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        return self._index.search(queries, min(k, max(len(self), 1)))

    def keys(self) -> np.ndarray:
        """Every key stored, in no particular order."""
        ivf = faiss.try_extract_index_ivf(self._index)
        if ivf is None:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = ivf.invlists
        return np.concatenate([np.empty(0, dtype=np.int64)] + [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).astype(np.int64)
            for i in range(lists.nlist) if lists.list_size(i)])

    def sample(self, count: int, seed: int = 0) -> np.ndarray:
        """The vectors of `count` keys drawn at random (all of them when fewer are stored), the same
        for the same keys and seed: a fixed reference of what unrelated pairs score in this index."""
        keys = np.sort(self.keys())
        if len(keys) > count:
            keys = keys[np.random.default_rng(seed).choice(len(keys), count, replace=False)]
        if not len(keys):
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([self._index.reconstruct(int(key)) for key in keys])

    def vector(self, key: int) -> np.ndarray | None:
        """The stored vector of one key, or None when no vector is stored under it."""
        try:
            return self._index.reconstruct(int(key))
        except RuntimeError as exc:  # FAISS says "key ... not found"; any other failure is not ours to hide
            if "not found" not in str(exc):
                raise
            return None

    def finds_itself(self, key: int, vector: np.ndarray, depth: int = 10) -> bool:
        """Whether a search with `vector` puts `key` first, or level with the first: exact copies tie,
        and when more than `depth` of them do, a search that returns only copies counts as found."""
        hits = self.search(vector, depth)
        if not hits:
            return False
        tied = [k for k, score in hits if score >= hits[0][1] - 1e-4]
        copies_only = len(tied) == len(hits) and hits[0][1] >= float(vector @ vector) - 1e-4
        return key in tied or copies_only

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self._index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "VectorIndex":
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        return cls(index.d, index)

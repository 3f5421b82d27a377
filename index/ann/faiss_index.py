"""The FAISS vector index: inner product on unit vectors (cosine), keyed by the store's integer keys.

Vectors live in rows, appended in order; `key_rows` maps keys to rows. A replaced or removed vector's
row is marked dead (a tombstone) and every search skips it through a FAISS selector, so a search still
returns k live hits. Dead rows go when the index is built afresh (the rebuild); the exact kind also
compacts itself once they outnumber the live ones.

Two kinds, by corpus size:
- `flat`: exact search (IndexFlatIP) up to FLAT_MAX articles;
- `hnsw`: beyond, an HNSW graph over 8-bit scalar-quantised vectors finds candidates, re-ranked exactly
  from float16 copies of the vectors (FAISS IndexRefine), which also answer `vector` and `vectors`.
  (`ivf`, an IVF-SQ8 first stage, is built only on request: bench/ann_scaling.py compares them.)

Longer than 300 lines on purpose: every method of `VectorIndex` handles each kind, the rows and their
tombstones alike, and reads best beside the others.
"""
from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import BinaryIO

import faiss
import numpy as np

from .key_rows import ABSENT, KeyRows

# One query at a time is our workload (a request, or one article being linked); FAISS's OpenMP team
# costs more than it saves there, and much more when the cores are busy: measured 8x faster for
# single-query search of 30k vectors on 2 busy cores. OpenMP's setting belongs to the calling thread,
# so each call sets it; batches (`search_many`, a rebuild's add) use every core.
faiss.omp_set_num_threads(1)
BATCH_THREADS = len(os.sched_getaffinity(0))
# Smaller batches run in one thread: an OpenMP team's spinning costs more than it saves on cores busy with
# other work (adding 4,000 vectors took 2.2 s on 2 threads, 0.64 s on one, with the cores loaded).
BATCH_MIN = 20_000
BATCH_ROWS = 65_536  # queries per FAISS call in `search_many`: bounds its temporary result arrays

# Exact search up to this many articles; approximate beyond. One query's CPU time, e5-like synthetic
# vectors, 1 thread (2 busy cores): exact 0.5 ms at 10k, 1.6 ms at 20k, 3.5 ms at 50k (linear); HNSW
# 0.24-0.7 ms at 10k-50k, recall@10 0.99 at 10-20k. Exact stays the rule where it costs about 1 ms.
FLAT_MAX = 20_000

HNSW = "HNSW32,SQ8"  # the approximate kind's first stage, as a FAISS factory string
# Candidates kept while building the graph and while searching it (efConstruction, efSearch), and how
# many times k of the candidates are re-ranked exactly. Measured on 200k vectors spread like e5's
# (bench/synthetic_archive.py's model, 1 thread): efConstruction 40 -> 80 raises recall@10 from 0.951
# to 0.993 at efSearch 64 (0.976 -> 0.998 at 128) for 1.6x the build time (22 -> 36 CPU s).
EF_CONSTRUCTION = 80
EF_SEARCH = 128
RERANK = 2.0
NPROBE = 32  # lists an `ivf` first stage searches
TRAIN_SAMPLE = 65_536  # vectors an 8-bit quantiser learns its ranges from (an IVF: 64 a list)

MAGIC = b"NWSVEC01"  # a saved index in rows; anything else is a FAISS index keyed by ids (as saved before rows)
_HEADER = struct.Struct("<8sQ")
COMPACT_MIN = 1024  # dead rows an exact index tolerates before it compacts (when they also outnumber the live)


def ivf_lists(count: int) -> int:
    """Inverted lists for `count` vectors: about 4 * sqrt(n), the FAISS guideline."""
    return max(16, int(4 * np.sqrt(count)))


@contextmanager
def threads(count: int) -> Iterator[None]:
    """FAISS calls in this thread use `count` OpenMP threads meanwhile."""
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


def new_index(dim: int, vectors: np.ndarray, force: str | None = None) -> VectorIndex:
    """An empty index suited to `vectors` (a sample of which trains it when approximate): exact up to
    FLAT_MAX of them, approximate beyond; `force` a kind (`flat`, `hnsw`, `ivf`) or a FAISS factory
    string for the approximate first stage (e.g. `IVF4000,PQ48`)."""
    kind = force or ("flat" if len(vectors) <= FLAT_MAX else "hnsw")
    if kind == "flat":
        return VectorIndex(dim)
    recipe = {"hnsw": HNSW, "ivf": f"IVF{ivf_lists(len(vectors))},SQ8"}.get(kind, kind)
    try:
        base = faiss.index_factory(dim, recipe, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise ValueError(f"Unknown index kind: {kind!r} (use flat, hnsw, ivf or a FAISS factory string)") from exc
    if isinstance(base, faiss.IndexHNSW):
        base.hnsw.efConstruction = EF_CONSTRUCTION
    ivf = faiss.try_extract_index_ivf(base)
    wanted = ivf.nlist * 64 if ivf is not None else TRAIN_SAMPLE
    sample = vectors if len(vectors) <= wanted else vectors[np.random.RandomState(0).choice(len(vectors), wanted, replace=False)]
    with threads(BATCH_THREADS if len(sample) >= BATCH_MIN else 1):
        base.train(np.ascontiguousarray(sample, dtype=np.float32))
    exact = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    return VectorIndex(dim, faiss.IndexRefine(base, exact), np.empty(0, dtype=np.int64))


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    """`array`, or a copy with room for at least `size` items (doubling: appends cost O(1) on average)."""
    if size <= len(array):
        return array
    bigger = np.zeros(max(size, 2 * len(array), 1024), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger


class VectorIndex:
    """Inner-product search over unit vectors, with add-or-replace and remove by key."""

    def __init__(self, dim: int, index: faiss.Index | None = None, row_keys: np.ndarray | None = None,
                 dead: np.ndarray | None = None) -> None:
        """An empty exact index; or `index` over rows whose keys are `row_keys` (`dead`: rows removed);
        or, `index` alone, a FAISS index keyed by ids (versions saved before rows), copied into rows."""
        self.dim = dim
        if index is not None and row_keys is None:
            index, row_keys = _rows_of_keyed(index)
        self._index = index if index is not None else faiss.IndexFlatIP(dim)
        if self._index.d != dim:
            raise ValueError(f"index dimension {self._index.d} does not match {dim}")
        row_keys = np.empty(0, dtype=np.int64) if row_keys is None else np.asarray(row_keys, dtype=np.int64)
        self._n = int(self._index.ntotal)
        if len(row_keys) != self._n:
            raise ValueError(f"{len(row_keys)} keys for {self._n} rows")
        self._row_keys = _grown(row_keys.copy(), self._n)
        self._dead = _grown(np.zeros(self._n, dtype=bool) if dead is None else np.asarray(dead, dtype=bool).copy(), self._n)
        self._dead_count = int(self._dead[: self._n].sum())
        live = ~self._dead[: self._n]
        self._map = KeyRows(self._row_keys[: self._n][live], np.flatnonzero(live))
        self.effort = NPROBE if self._ivf() is not None else EF_SEARCH
        self.rerank = RERANK
        self._refresh()

    # -- what it is ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n - self._dead_count

    @property
    def kind(self) -> str:
        """`flat` (exact), or the approximate kind's first stage: `hnsw` or `ivf`."""
        if isinstance(self._index, faiss.IndexFlat):
            return "flat"
        return "ivf" if self._ivf() is not None else "hnsw"

    @property
    def faiss_index(self) -> faiss.Index:
        """The FAISS index over rows (not keys)."""
        return self._index

    def _base(self) -> faiss.Index | None:
        return faiss.downcast_index(self._index.base_index) if isinstance(self._index, faiss.IndexRefine) else None

    def _ivf(self) -> faiss.IndexIVF | None:
        base = self._base()
        return faiss.try_extract_index_ivf(base) if base is not None else None

    def tune(self, effort: int | None = None, rerank: float | None = None) -> None:
        """Set the approximate search's effort (HNSW efSearch, or IVF lists probed) and its re-rank factor."""
        self.effort = effort if effort is not None else self.effort
        self.rerank = rerank if rerank is not None else self.rerank
        self._refresh()

    # -- rows ---------------------------------------------------------------------------------------

    def _exact_rows(self) -> np.ndarray:
        """Every row's exact vector, as stored (float32 for flat, float16 beside an approximate stage):
        a view, valid until the next add."""
        if isinstance(self._index, faiss.IndexFlat):
            return faiss.rev_swig_ptr(self._index.get_xb(), self._n * self.dim).reshape(self._n, self.dim)
        exact = faiss.downcast_index(self._index.refine_index)
        raw = faiss.rev_swig_ptr(exact.codes.data(), self._n * exact.code_size)
        return raw.view(np.float16).reshape(self._n, self.dim)

    def _refresh(self) -> None:
        """The search parameters for the rows as they are: dead rows filtered out by a bitmap of the live."""
        selector = bitmap = first = None
        if self._dead_count:
            bitmap = np.packbits(~self._dead[: self._n], bitorder="little")
            selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        if isinstance(self._index, faiss.IndexFlat):
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        else:
            first = (faiss.SearchParametersIVF(nprobe=self.effort) if self._ivf() is not None
                     else faiss.SearchParametersHNSW(efSearch=self.effort))
            if selector is not None:
                first.sel = selector
            params = faiss.IndexRefineSearchParameters(k_factor=self.rerank, base_index_params=first)
        # FAISS only points to the parts: they are kept together, and swapped in one assignment.
        self._search = (params, first, selector, bitmap)

    def _kill(self, rows: np.ndarray) -> None:
        rows = np.unique(rows[rows != ABSENT])
        rows = rows[~self._dead[rows]]
        self._dead[rows] = True
        self._dead_count += len(rows)

    def _compact(self) -> None:
        """An exact index copies its live rows into a fresh one once dead rows outnumber them."""
        live = np.flatnonzero(~self._dead[: self._n])
        vectors, keys = self._exact_rows()[live].copy(), self._row_keys[live].copy()
        self._index = faiss.IndexFlatIP(self.dim)
        self._index.add(vectors)
        self._n, self._dead_count = len(live), 0
        self._row_keys = _grown(keys, self._n)
        self._dead = np.zeros(len(self._row_keys), dtype=bool)
        self._map = KeyRows(keys, np.arange(self._n))

    # -- writing ------------------------------------------------------------------------------------

    def remove(self, keys: Sequence[int]) -> None:
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        if not len(keys):
            return
        rows = self._map.rows(keys)
        if (rows == ABSENT).all():
            return
        self._kill(rows)
        self._map.set(keys[rows != ABSENT], np.full(int((rows != ABSENT).sum()), ABSENT))
        self._after_change()

    def upsert(self, keys: Sequence[int], vectors: np.ndarray) -> None:
        """Add vectors under `keys`, replacing any vector already stored under the same key (its row
        dies); of a key given twice, the last vector counts."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        if not len(keys):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        self._kill(self._map.rows(keys))
        start, count = self._n, len(keys)
        with threads(BATCH_THREADS if count >= BATCH_MIN else 1):
            self._index.add(vectors)
        self._n += count
        self._row_keys = _grown(self._row_keys, self._n)
        self._row_keys[start : self._n] = keys
        self._dead = _grown(self._dead, self._n)
        rows = np.arange(start, self._n)
        self._dead[rows] = False
        _, last = np.unique(keys[::-1], return_index=True)
        earlier = np.setdiff1d(np.arange(count), count - 1 - last)  # a key given twice: its first rows die
        self._kill(rows[earlier])
        self._map.set(keys, rows)
        self._after_change()

    def _after_change(self) -> None:
        if isinstance(self._index, faiss.IndexFlat) and self._dead_count > max(COMPACT_MIN, len(self)):
            self._compact()
        self._refresh()

    # -- reading ------------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The `k` nearest keys to one vector, best first, as (key, cosine score)."""
        k = min(k, len(self))
        if k <= 0:
            return []
        faiss.omp_set_num_threads(1)  # this thread's setting (see BATCH_THREADS)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        held = self._search  # its parts stay alive to the end of the call, whatever changes meanwhile
        scores, rows = self._index.search(query, k, params=held[0])
        found = rows[0] >= 0
        return list(zip(self._row_keys[rows[0][found]].tolist(), scores[0][found].tolist()))

    def search_many(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest keys to each row of `vectors`: (scores, keys) arrays, -1 for no key. Uses
        every core."""
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        k = min(k, max(len(self), 1))
        held = self._search
        scores = np.empty((len(queries), k), dtype=np.float32)
        keys = np.empty((len(queries), k), dtype=np.int64)
        with threads(BATCH_THREADS if len(queries) >= BATCH_MIN else 1):
            for start in range(0, len(queries), BATCH_ROWS):
                part_scores, rows = self._index.search(queries[start : start + BATCH_ROWS], k, params=held[0])
                scores[start : start + len(rows)] = part_scores
                keys[start : start + len(rows)] = np.where(rows >= 0, self._row_keys[np.maximum(rows, 0)], -1)
        return scores, keys

    def keys(self) -> np.ndarray:
        """Every key stored, in no particular order."""
        return self._row_keys[: self._n][~self._dead[: self._n]].copy()

    def vectors(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of `keys` (a float32 row each, zeros where none) and which were found."""
        rows = self._map.rows(np.asarray(keys, dtype=np.int64))
        found = rows != ABSENT
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        if found.any():
            out[found] = self._exact_rows()[rows[found]]
        return out, found

    def vector(self, key: int) -> np.ndarray | None:
        """The stored vector of one key, or None when no vector is stored under it."""
        out, found = self.vectors([key])
        return out[0] if found[0] else None

    def sample(self, count: int, seed: int = 0) -> np.ndarray:
        """The vectors of `count` keys drawn at random (all of them when fewer are stored), the same
        for the same keys and seed: a fixed reference of what unrelated pairs score in this index."""
        keys = np.sort(self.keys())
        if len(keys) > count:
            keys = keys[np.random.default_rng(seed).choice(len(keys), count, replace=False)]
        return self.vectors(keys)[0]

    def finds_itself(self, key: int, vector: np.ndarray, depth: int = 10) -> bool:
        """Whether a search with `vector` puts `key` first, or level with the first: exact copies tie,
        and when more than `depth` of them do, a search that returns only copies counts as found."""
        hits = self.search(vector, depth)
        if not hits:
            return False
        tied = [k for k, score in hits if score >= hits[0][1] - 1e-4]
        copies_only = len(tied) == len(hits) and hits[0][1] >= float(vector @ vector) - 1e-3
        return key in tied or copies_only

    # -- saving -------------------------------------------------------------------------------------

    def write(self, out: BinaryIO) -> None:
        """Save to a binary file: a header, each row's key, the dead rows' bitmap, then the FAISS index."""
        header = json.dumps({"kind": self.kind, "dim": self.dim, "rows": self._n}).encode()
        out.write(_HEADER.pack(MAGIC, len(header)))
        out.write(header)
        out.write(self._row_keys[: self._n].astype("<i8").tobytes())
        out.write(np.packbits(self._dead[: self._n], bitorder="little").tobytes())
        faiss.write_index(self._index, faiss.PyCallbackIOWriter(out.write))

    @classmethod
    def read(cls, source: BinaryIO) -> VectorIndex:
        """Load what `write` saved, or a FAISS index keyed by ids (as versions were saved before rows).
        Raises ValueError for a file that is neither, RuntimeError when FAISS cannot read it."""
        start = source.read(_HEADER.size)
        if len(start) < _HEADER.size or not start.startswith(MAGIC):
            source.seek(0)
            keyed = faiss.read_index(faiss.PyCallbackIOReader(source.read))
            return cls(keyed.d, keyed)
        _, size = _HEADER.unpack(start)
        header = json.loads(source.read(size))
        rows, dim = int(header["rows"]), int(header["dim"])
        row_keys = np.frombuffer(source.read(8 * rows), dtype="<i8")
        dead = np.unpackbits(np.frombuffer(source.read((rows + 7) // 8), dtype=np.uint8), count=rows,
                             bitorder="little").astype(bool)
        if len(row_keys) != rows or len(dead) != rows:
            raise ValueError(f"the index file ends before its {rows} rows' keys")
        index = faiss.read_index(faiss.PyCallbackIOReader(source.read))
        return cls(dim, index, row_keys, dead)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self.write(out)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> VectorIndex:
        return cls.read(io.BytesIO(data))


def _rows_of_keyed(index: faiss.Index) -> tuple[faiss.Index, np.ndarray]:
    """An exact index over rows holding what a FAISS index keyed by ids holds (IndexIDMap2 over a flat
    index, or an IVF index with a direct map), and each row's key. FAISS's RuntimeError when it cannot
    give its vectors back is not hidden."""
    index = faiss.downcast_index(index)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        keys = faiss.vector_to_array(index.id_map).astype(np.int64)
        vectors = faiss.downcast_index(index.index).reconstruct_n(0, index.ntotal) if len(keys) else None
    else:
        lists = ivf.invlists
        keys = np.concatenate([np.empty(0, dtype=np.int64)] + [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).astype(np.int64)
            for i in range(lists.nlist) if lists.list_size(i)])
        vectors = np.stack([index.reconstruct(int(key)) for key in keys]) if len(keys) else None
    flat = faiss.IndexFlatIP(index.d)
    if vectors is not None:
        flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return flat, keys

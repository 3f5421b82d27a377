"""The approximate index (and the exact one) against exact search on seeded synthetic vectors: recall,
deletes and replacements before the next rebuild, snapshots, batch lookups. Real FAISS, small sizes."""
import hashlib
import json

import faiss
import numpy as np
import pytest

from index.ann.faiss_index import VectorIndex, new_index
from index.embedding.models import normalize_rows
from index.errors import IndexCorrupt
from index.store import snapshots

DIM = 48
COUNT = 4000
KEYS = np.arange(COUNT, dtype=np.int64) * 3 + 7  # keys are not rows


def clustered(rng: np.random.RandomState, centres: np.ndarray, n: int) -> np.ndarray:
    """Points around topic centres, as news vectors cluster by topic."""
    return normalize_rows(centres[rng.randint(0, len(centres), n)] + 0.8 * rng.randn(n, DIM) / np.sqrt(DIM))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(1338)
    centres = normalize_rows(rng.randn(80, DIM))
    return clustered(rng, centres, COUNT).astype(np.float32), clustered(rng, centres, 100).astype(np.float32)


def built(kind: str, vectors: np.ndarray) -> VectorIndex:
    index = new_index(DIM, vectors, force=kind)
    index.upsert(KEYS, vectors)
    return index


def exact_top(vectors: np.ndarray, keys: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return keys[np.argsort(-(vectors @ query), kind="stable")[:k]].tolist()


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_recall_against_exact_search(data, kind):
    vectors, queries = data
    index = built(kind, vectors)
    assert index.kind == kind and len(index) == COUNT
    recall = np.mean([len(set(k for k, _ in index.search(q, 10)) & set(exact_top(vectors, KEYS, q, 10))) / 10
                      for q in queries])
    assert recall >= 0.95
    # Scores are re-ranked from the stored vectors: the cosine itself, not the quantised estimate.
    for q in queries[:10]:
        for key, score in index.search(q, 10):
            assert score == pytest.approx(float(vectors[(key - 7) // 3] @ q), abs=2e-3)


def test_the_exact_kind_is_exact(data):
    vectors, queries = data
    index = built("flat", vectors)
    assert index.kind == "flat"
    for q in queries[:20]:
        assert [k for k, _ in index.search(q, 10)] == exact_top(vectors, KEYS, q, 10)


@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_a_deleted_article_is_never_answered_before_the_next_rebuild(data, kind, tmp_path):
    vectors, queries = data
    index = built(kind, vectors)
    # Remove every query's five nearest: the removed would otherwise rank first for those queries.
    gone = sorted({key for q in queries for key in exact_top(vectors, KEYS, q, 5)})
    index.remove(gone)
    assert len(index) == COUNT - len(gone)
    live = np.setdiff1d(KEYS, gone)
    live_vectors = vectors[(live - 7) // 3]
    for i, q in enumerate(queries):
        hits = [k for k, _ in index.search(q, 10)]
        assert len(hits) == 10 and not set(hits) & set(gone)  # k live hits, none removed
        if kind == "flat":
            assert hits == exact_top(live_vectors, live, q, 10)
    removed_vector = vectors[(gone[0] - 7) // 3]
    assert gone[0] not in [k for k, _ in index.search(removed_vector, 50)]  # not even by its own vector
    assert index.vector(gone[0]) is None
    _, keys = index.search_many(queries, 10)
    assert not set(keys.ravel().tolist()) & set(gone)
    # ...nor after a round trip through a snapshot: the tombstones are saved with the rows.
    meta = snapshots.write_snapshot(tmp_path, index, "m", seq=1)
    _, loaded = snapshots.read_snapshot(tmp_path, meta.version)
    assert len(loaded) == len(index) and not set(loaded.keys().tolist()) & set(gone)
    assert gone[0] not in [k for k, _ in loaded.search(removed_vector, 50)]


@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_an_upserted_key_is_answered_once_with_its_new_vector(data, kind):
    vectors, queries = data
    index = built(kind, vectors)
    moved = int(KEYS[0])
    new = queries[0]  # far from the old vector's neighbourhood, most likely
    index.upsert([moved, moved], np.stack([vectors[1], new]))  # given twice: the last counts
    assert len(index) == COUNT
    assert np.allclose(index.vector(moved), new, atol=1e-3)
    hits = [k for k, _ in index.search(new, 20)]
    assert hits.count(moved) == 1 and hits[0] == moved
    old = [(k, s) for k, s in index.search(vectors[0], 50) if k == moved]  # its old vector is gone
    assert len(old) <= 1 and all(s == pytest.approx(float(new @ vectors[0]), abs=2e-3) for _, s in old)
    assert index.finds_itself(moved, new)


@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_round_trip_through_a_snapshot(data, kind, tmp_path):
    vectors, queries = data
    index = built(kind, vectors)
    index.upsert([99_999], queries[:1])
    meta = snapshots.write_snapshot(tmp_path, index, "m", seq=5, extras={"extra": b"x"})
    loaded_meta, loaded = snapshots.load_live(tmp_path)
    assert loaded_meta == meta and loaded.kind == kind and len(loaded) == COUNT + 1
    assert sorted(loaded.keys().tolist()) == sorted(index.keys().tolist())
    for q in queries[:10]:
        assert loaded.search(q, 10) == index.search(q, 10)
    assert np.array_equal(loaded.vectors(KEYS[:50])[0], index.vectors(KEYS[:50])[0])
    (tmp_path / meta.version / snapshots.VECTORS).write_bytes(index.to_bytes()[:-10])  # truncated
    with pytest.raises(IndexCorrupt, match="checksum"):
        snapshots.read_snapshot(tmp_path, meta.version)


def test_a_version_saved_as_a_keyed_faiss_index_still_loads(data, tmp_path):
    vectors, queries = data
    keyed = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))  # how versions were saved before rows
    keyed.add_with_ids(vectors[:500], KEYS[:500])
    meta = snapshots.write_snapshot(tmp_path, VectorIndex(DIM), "m", seq=1)
    data_bytes = faiss.serialize_index(keyed).tobytes()
    (tmp_path / meta.version / snapshots.VECTORS).write_bytes(data_bytes)
    stored = json.loads((tmp_path / meta.version / snapshots.META).read_text())
    stored.update(count=500, sha256=hashlib.sha256(data_bytes).hexdigest())
    (tmp_path / meta.version / snapshots.META).write_text(json.dumps(stored))
    _, index = snapshots.read_snapshot(tmp_path, meta.version)
    assert index.kind == "flat" and len(index) == 500
    assert [k for k, _ in index.search(queries[0], 10)] == exact_top(vectors[:500], KEYS[:500], queries[0], 10)


@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_vectors_in_one_call_match_vector_by_vector(data, kind):
    vectors, _ = data
    index = built(kind, vectors)
    index.remove([int(KEYS[3])])
    asked = [int(KEYS[5]), 1, int(KEYS[3]), int(KEYS[-1]), int(KEYS[5])]  # missing, removed, repeated
    matrix, found = index.vectors(asked)
    assert matrix.dtype == np.float32 and matrix.shape == (5, DIM)
    assert found.tolist() == [True, False, False, True, True]
    for row, key, present in zip(matrix, asked, found):
        single = index.vector(key)
        assert (single is None and not present and not row.any()) or np.array_equal(single, row)
    assert np.allclose(matrix[0], vectors[5], atol=1e-3)
    empty, none = index.vectors([])
    assert empty.shape == (0, DIM) and none.shape == (0,)


def test_search_many_agrees_with_single_searches(data):
    vectors, queries = data
    index = built("hnsw", vectors)
    scores, keys = index.search_many(queries[:20], 10)
    for q, row_scores, row_keys in zip(queries[:20], scores, keys):
        single = index.search(q, 10)
        assert row_keys.tolist() == [k for k, _ in single]
        assert np.allclose(row_scores, [s for _, s in single], atol=1e-6)


def test_an_exact_index_compacts_its_dead_rows(data):
    vectors, queries = data
    index = built("flat", vectors)
    for _ in range(3):  # every vector replaced three times: three dead rows each, then compacted
        index.upsert(KEYS, vectors)
    assert len(index) == COUNT and index.faiss_index.ntotal <= 2 * COUNT  # 16,000 rows uncompacted
    assert [k for k, _ in index.search(queries[0], 10)] == exact_top(vectors, KEYS, queries[0], 10)

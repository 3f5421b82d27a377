import numpy as np
import pytest

from index.ann.faiss_index import VectorIndex
from index.embedding.models import normalize_rows


@pytest.fixture
def vectors():
    rng = np.random.RandomState(1338)
    return normalize_rows(rng.randn(500, 32))


def test_search_matches_exact_inner_product(vectors):
    index = VectorIndex(32)
    keys = np.arange(1000, 1500)
    index.upsert(keys, vectors)
    query = vectors[7]
    expected = keys[np.argsort(-(vectors @ query))[:10]]
    got = [key for key, _ in index.search(query, 10)]
    assert got == list(expected)
    assert index.search(query, 1)[0] == (1007, pytest.approx(1.0, abs=1e-5))


def test_upsert_replaces_and_remove_deletes(vectors):
    index = VectorIndex(32)
    index.upsert([1, 2, 3], vectors[:3])
    index.upsert([2], vectors[10:11])
    assert len(index) == 3
    assert np.allclose(index.vector(2), vectors[10])
    index.remove([1, 99])
    assert len(index) == 2
    assert index.vector(1) is None
    assert 1 not in [key for key, _ in index.search(vectors[0], 5)]


def test_round_trip_through_bytes(vectors):
    index = VectorIndex(32)
    index.upsert(list(range(50)), vectors[:50])
    copy = VectorIndex.from_bytes(index.to_bytes())
    assert len(copy) == 50
    assert copy.search(vectors[3], 3) == index.search(vectors[3], 3)


def test_search_on_small_or_empty_index(vectors):
    index = VectorIndex(32)
    assert index.search(vectors[0], 5) == []
    index.upsert([4], vectors[:1])
    assert [key for key, _ in index.search(vectors[0], 5)] == [4]

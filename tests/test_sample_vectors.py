"""The shipped vectors of the bundled sample: complete, made by today's model, and used for real.

A stale file (another model version, changed sample or text preparation) fails here; regenerate it
with `python sample/make_sample.py --vectors`.
"""
import random

import numpy as np

from index.embedding.cache import EmbeddingCache, embed_key, read_vectors_file, write_vectors_file
from index.embedding.models import DEFAULT_MODEL
from index.engine import Engine
from index.records.article import validate_article
from sample.make_sample import sample_texts

from .conftest import SAMPLE_VECTORS

RECHECKED = 8


def test_the_file_holds_a_vector_for_every_sample_text():
    model, keys, vectors = read_vectors_file(SAMPLE_VECTORS)
    assert model == DEFAULT_MODEL
    assert vectors.shape == (len(keys), 384)
    assert {embed_key(model, t) for t in sample_texts()} == set(keys)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_random_handful_matches_the_model_today(e5):
    model, keys, vectors = read_vectors_file(SAMPLE_VECTORS)
    by_key = dict(zip(keys, vectors))
    picked = random.sample(sample_texts(), RECHECKED)
    fresh = e5.encode(picked)
    shipped = np.stack([by_key[embed_key(model, t)] for t in picked])
    cosines = np.sum(fresh * shipped, axis=1)
    assert cosines.min() >= 0.999, f"stale sample vectors (cosine {cosines.min():.5f}): run sample/make_sample.py --vectors"


def test_an_engine_seeded_with_the_file_embeds_only_other_texts(tmp_path, e5, sample_rows):
    engine = Engine(tmp_path / "data", embedder=e5, embedding_cache=tmp_path / "fresh-cache.sqlite")
    embedded: list[int] = []
    engine.observe(on_embed=lambda texts, seconds: embedded.append(texts))
    assert engine.seed_embeddings(SAMPLE_VECTORS) == len(read_vectors_file(SAMPLE_VECTORS)[1])
    engine.upsert([validate_article(r) for r in sample_rows[:40]])
    assert embedded == []
    engine.upsert([validate_article({"id": "new-1", "headline": "خبر لم يرد في العينة عن افتتاح مكتبة"})])
    assert embedded == [1]


def test_vectors_of_another_model_are_not_used(tmp_path):
    other = tmp_path / "other.vectors.npz"
    write_vectors_file(other, "sentence-transformers:other", [embed_key("sentence-transformers:other", "x")],
                       np.ones((1, 4), dtype=np.float32) / 2)
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    assert cache.seed(other, DEFAULT_MODEL) == 0
    assert cache.get_many([embed_key("sentence-transformers:other", "x")]) == {}

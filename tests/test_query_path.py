"""The query path computes every candidate's relation and evidence in a few array passes; here each
is computed again the plain way, one pair at a time with the per-pair functions, on the sample with
the real model, and the answers must be the same items in the same order."""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace

import numpy as np
import pytest

from index.engine import Engine
from index.records.options import SimilarOptions
from index.relatedness.model import cosine_z, evidence, same_section
from index.relatedness.relations import DUPLICATES, relate
from index.search.article_words import ARTICLE_WORDS, headline_weights
from index.search.neighbours import WHY_LEAD_WORDS, Neighbour
from index.search.present import similar_items
from index.search.ranking import days_between
from index.search.selection import grouped, passes, rank_score
from index.text.lexical import lexical_query, words_of
from index.text.prepare import lead
from index.text.terms import shared_terms
from index.text.word_weights import word_ids

QUERIES = 60


def plain_neighbour(search, query, key: int, score: float) -> Neighbour:
    """One candidate's relation and relatedness, computed on its own from the store and the index."""
    version, calibration = search.live.version, search.calibration
    stored = search.store.get_by_keys([key])[key]
    relation = relate(query.fingerprint, stored.fingerprint, score, version.common, floor=-math.inf)
    words = search.store.words.words([key]).get(key, frozenset())
    asked = lexical_query(list(query.words), version.frequencies)
    headline = lexical_query(list(query.headline_words), version.frequencies)
    theirs = lexical_query(words_of(stored.article.headline, ""), version.frequencies)
    cosine = np.array([score])
    row = evidence(cosine, cosine_z(cosine, search.null(query.vector), search.null(search.live.vector(key))),
                   np.array([asked.shared(words)]), np.array([headline.shared(words)]),
                   np.array([theirs.shared(frozenset(query.words))]),
                   [days_between(query.published_at, stored.article.published_at)],
                   [same_section(query.section, stored.article.section)])
    p = float(calibration.relatedness(row)[0])
    if relation.relation in DUPLICATES:
        p = 1.0
    elif score < calibration.gate(search.null(query.vector)):
        p = 0.0
    return Neighbour(stored, relation, p, p >= calibration.same_event)


@pytest.fixture(scope="module")
def queries(sample_engine, sample_rows):
    search = sample_engine.search
    sample_engine.catch_up()
    rows = sample_rows[:: len(sample_rows) // QUERIES][:QUERIES]
    return [search.query_of(search.stored(r["id"])) for r in rows]


def test_every_candidate_has_the_relation_and_relatedness_of_the_plain_computation(sample_engine, queries):
    search = sample_engine.search
    assert search.calibration is not None
    checked = 0
    for query in queries:
        found, _ = search.candidates(query, 25)
        assert found
        for n in found:
            plain = plain_neighbour(search, query, n.key, n.score)
            assert (n.relation.relation, n.relation.compared) == (plain.relation.relation, plain.relation.compared)
            assert n.relation.overlap == pytest.approx(plain.relation.overlap, abs=1e-12)
            assert n.relatedness == pytest.approx(plain.relatedness, abs=1e-6)
            assert n.same_event == plain.same_event
            checked += 1
    assert checked > 25 * len(queries)  # the lexical candidates are checked too


@pytest.mark.parametrize("options", [SimilarOptions(k=6), SimilarOptions(k=10, duplicates="include"),
                                     SimilarOptions(k=5, recency_half_life_days=3.0)])
def test_answers_are_the_items_of_the_plain_computation_in_the_same_order(sample_engine, queries, options):
    search = sample_engine.search
    compared = 0  # answers with an item at least
    for query in queries:
        depth = 3 * options.k + 20 if options.recency_half_life_days else 2 * options.k + 10
        found, _ = search.candidates(query, depth)
        plain = [plain_neighbour(search, query, n.key, n.score) for n in found]
        least = search.calibration.floor
        kept = [n for n in plain if passes(n, options, query, least)]
        groups = grouped(sorted(kept, key=lambda n: -rank_score(n, options, query)), options, query)
        # Without filters the query path stops at this depth, however few pass (see `SimilarSearch._groups`).
        shown, _ = search.items(query, options)
        assert [s.neighbour.article.id for s in shown] == [g[0].article.id for g in groups[: options.k]]
        # Candidate rows hold no body: the items shown read their leads, and share what their texts share.
        for item in similar_items(query, shown):
            stored = search.store.get(item["id"])
            assert item["shared"] == shared_terms(query.text, f"{stored.article.headline}\n"
                                                              f"{lead(stored.article.body, WHY_LEAD_WORDS)}")
        compared += bool(shown)
    assert compared >= len(queries) // 4


@pytest.fixture
def sample_copy(tmp_path, sample_engine):
    folder = tmp_path / "data"
    shutil.copytree(sample_engine.data_dir, folder)
    return folder


def test_the_version_keeps_every_articles_words_and_the_store_answers_for_those_changed_since(sample_copy, sample_engine):
    engine = Engine(sample_copy, embedder=sample_engine.embedder, embedding_cache=sample_engine.cache.path)
    engine.load()
    words = engine.live.version.words
    assert words is not None and len(words) == engine.store.count()
    stored = engine.store.get_by_keys([int(k) for k in words.keys[:50]])
    held = engine.store.words.words(list(stored))
    for key, s in stored.items():
        i = words.row(key)
        assert np.array_equal(words.words(i), word_ids(held[key]))
        plain = headline_weights(words_of(s.article.headline, ""), engine.live.version.frequencies)
        assert np.array_equal(words.headline(i).ids, plain.ids) and words.headline(i).total == plain.total
    # Rewritten after the version: its candidate row holds its new words, not the version's.
    first = next(iter(stored.values())).article
    engine.upsert([replace(first, headline="كاريكاتير الكرملين وناجورنو كاراباخ", body=first.body)])
    engine.catch_up()
    assert first_key(engine, first.id) in engine.live.changed
    row = engine.search._read_candidates([first_key(engine, first.id)])[first_key(engine, first.id)]
    assert np.array_equal(row.headline.ids, word_ids(["كاريكاتير", "كرملين", "ناجورنو", "كاراباخ"]))


def first_key(engine, article_id: str) -> int:
    return engine.get(article_id).key


def test_a_version_without_its_words_file_answers_the_same_from_the_store(sample_copy, sample_engine, queries):
    # A version written before the words file existed: none on disk, none in its metadata.
    version = sample_copy / "index" / (sample_copy / "index" / "CURRENT").read_text().strip()
    (version / ARTICLE_WORDS).unlink()
    meta = json.loads((version / "meta.json").read_text())
    meta["files"].pop(ARTICLE_WORDS)
    (version / "meta.json").write_text(json.dumps(meta))
    engine = Engine(sample_copy, embedder=sample_engine.embedder, embedding_cache=sample_engine.cache.path)
    engine.load()
    assert engine.live.version.words is None
    options = SimilarOptions(k=6)
    for query in queries[:20]:
        if query.article_id and engine.store.get(query.article_id) is not None:
            assert engine.similar(query.article_id, options) == sample_engine.similar(query.article_id, options)

"""Importing an archive with vectors made elsewhere: `ingest FILE --vectors VEC` with a file keyed by
article id, its refusals, and a bulk import whose stories are linked by the rebuild."""
import json
import sqlite3

import numpy as np
import pytest

from index.embedding.models import DEFAULT_MODEL
from index.engine import Engine
from index.records.article import validate_article
from service import cli, create_app

from .conftest import make_engine


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def write_id_vectors(path, ids, vectors, model=DEFAULT_MODEL):
    with open(path, "wb") as f:
        np.savez(f, ids=np.array(ids), vectors=np.asarray(vectors), model=np.array(model))


def model_vectors(e5, rows, folder):
    """The model's own vectors of these articles (the sample's from the shared test cache), as an
    embedding job elsewhere would have made them."""
    engine = make_engine(folder, e5)
    return engine.embedding.embed([engine.text_of(r["headline"], r.get("body", "")) for r in rows]).matrix()


@pytest.fixture
def importer(tmp_path, e5):
    """An engine with an empty embedding cache of its own, a CLI runner on it, and a list of the
    number of texts each embedding call made."""
    engine = Engine(tmp_path / "import", embedder=e5, embedding_cache=tmp_path / "cache.sqlite")
    embedded: list[int] = []
    engine.observe(on_embed=lambda texts, seconds: embedded.append(texts))
    runner = create_app({"TESTING": True, "RATE_LIMIT": ""}, engine=engine).test_cli_runner()
    return engine, runner, embedded


def cached_vectors(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]


def test_id_keyed_vectors_are_imported_and_nothing_is_embedded(importer, tmp_path, e5, sample_rows):
    engine, runner, embedded = importer
    rows = sample_rows[:40]
    vectors = model_vectors(e5, rows, tmp_path / "vectors")
    source, vec = tmp_path / "in.jsonl", tmp_path / "vec.npz"
    write_jsonl(source, rows)
    # float16, not unit length, and in another order than the file: read by id, scaled on import
    order = np.random.default_rng(0).permutation(len(rows))
    write_id_vectors(vec, [rows[i]["id"] for i in order], (3.0 * vectors[order]).astype(np.float16))
    result = runner.invoke(args=["ingest", str(source), "--vectors", str(vec)])
    assert result.exit_code == 0, result.output
    assert f"ingested {len(rows)} articles" in result.output
    assert embedded == []  # the model never ran
    assert cached_vectors(tmp_path / "cache.sqlite") == len(rows)
    stored = engine.vector(rows[0]["id"])
    assert abs(float(np.linalg.norm(stored)) - 1) < 1e-5
    assert float(stored @ vectors[0]) > 0.9999  # its own vector, rounded to float16
    answer = engine.similar(rows[0]["id"], k=5, min_relatedness=0)
    assert answer["items"] and rows[0]["id"] not in [i["id"] for i in answer["items"]]
    assert embedded == []


def refusal(importer, tmp_path, rows, ids, vectors, model=DEFAULT_MODEL):
    """Ingest `rows` with an id-keyed file; the command's result, after checking nothing was stored."""
    engine, runner, embedded = importer
    source, vec = tmp_path / "in.jsonl", tmp_path / "vec.npz"
    write_jsonl(source, rows)
    write_id_vectors(vec, ids, vectors, model)
    result = runner.invoke(args=["ingest", str(source), "--vectors", str(vec)])
    assert result.exit_code != 0
    assert str(vec) in result.output and "nothing stored" in result.output
    assert engine.store.count() == 0 and cached_vectors(tmp_path / "cache.sqlite") == 0 and embedded == []
    return result.output


def unit(rng, n, d=384):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_wrong_dimension_is_refused(importer, tmp_path, few):
    rng = np.random.default_rng(1)
    output = refusal(importer, tmp_path, few[:3], [r["id"] for r in few[:3]], unit(rng, 3, 256))
    assert "256 dimensions" in output and "384" in output


def test_an_article_without_a_vector_is_refused_naming_it(importer, tmp_path, few):
    rng = np.random.default_rng(2)
    output = refusal(importer, tmp_path, few[:6], [r["id"] for r in few[:3]], unit(rng, 3))
    assert "no vector for 3 article(s)" in output and few[3]["id"] in output


def test_another_models_vectors_are_refused(importer, tmp_path, few):
    rng = np.random.default_rng(3)
    output = refusal(importer, tmp_path, few[:3], [r["id"] for r in few[:3]], unit(rng, 3),
                     model="sentence-transformers:other")
    assert "'sentence-transformers:other'" in output and DEFAULT_MODEL in output


def test_ids_and_vectors_of_different_lengths_are_refused(importer, tmp_path, few):
    rng = np.random.default_rng(4)
    output = refusal(importer, tmp_path, few[:3], [r["id"] for r in few[:3]], unit(rng, 4))
    assert "3 ids but 4 vectors" in output


def test_vectors_that_are_not_finite_are_refused(importer, tmp_path, few):
    vectors = unit(np.random.default_rng(5), 3)
    vectors[1, 7] = np.nan
    output = refusal(importer, tmp_path, few[:3], [r["id"] for r in few[:3]], vectors)
    assert "not finite" in output and few[1]["id"] in output


def with_copies(rows, count):
    """`rows` and, for the first `count` of them, a republished copy (same body, new id and headline)."""
    copies = [{**r, "id": r["id"] + "-copy", "headline": "نقلا عن " + r["headline"]} for r in rows[:count]]
    return rows + copies, {c["id"]: r["id"] for c, r in zip(copies, rows)}


def stories(engine):
    return {s.article.id: s.story_id for s in engine.store.snapshot()[1]}


def groups(story_of):
    """The stories as a set of frozensets of ids (names aside)."""
    members = {}
    for article_id, story in story_of.items():
        members.setdefault(story, set()).add(article_id)
    return {frozenset(m) for m in members.values()}


def test_a_bulk_import_leaves_linking_to_the_rebuild_which_groups_copies(tmp_path, e5, sample_rows, monkeypatch):
    rows, copy_of = with_copies(sample_rows[:120], 15)
    vectors = model_vectors(e5, rows, tmp_path / "vectors")
    source, vec = tmp_path / "in.jsonl", tmp_path / "vec.npz"
    write_jsonl(source, rows)
    write_id_vectors(vec, [r["id"] for r in rows], vectors.astype(np.float16))
    monkeypatch.setattr(cli, "BULK_ARTICLES", 50)  # a bulk import: text work in worker processes
    monkeypatch.setattr(cli, "BULK_CHUNK", 40)
    bulk = make_engine(tmp_path / "bulk", e5)
    runner = create_app({"TESTING": True, "RATE_LIMIT": ""}, engine=bulk).test_cli_runner()
    result = runner.invoke(args=["ingest", str(source), "--vectors", str(vec)])
    assert result.exit_code == 0, result.output
    assert "linked by the next rebuild" in result.output
    assert bulk.store.count() == len(rows)
    assert bulk.store.unlinked_ids() == []  # not a dead writer's: a repair leaves them to the rebuild
    before = stories(bulk)
    assert all(before[c] == c for c in copy_of)  # each a story of its own until the rebuild
    assert runner.invoke(args=["rebuild", "--no-warm"]).exit_code == 0
    after = stories(bulk)
    assert all(after[c] == after[o] for c, o in copy_of.items())  # copies in one story
    # The same file linked as it is stored (small imports): the same stories.
    now = make_engine(tmp_path / "now", e5)
    now_runner = create_app({"TESTING": True, "RATE_LIMIT": ""}, engine=now).test_cli_runner()
    result = now_runner.invoke(args=["ingest", str(source), "--vectors", str(vec), "--links", "now"])
    assert result.exit_code == 0, result.output
    assert groups(stories(now)) == groups(after)
    assert now.store.unlinked_ids() == []


def test_upsert_links_a_batch_with_one_search_and_finds_the_same_stories(tmp_path, e5, sample_rows):
    rows, copy_of = with_copies(sample_rows[:80], 10)
    articles = [validate_article(r) for r in rows]
    batched = make_engine(tmp_path / "batched", e5)
    batched.upsert(articles)  # one write: every article linked by one search
    single = make_engine(tmp_path / "single", e5)
    for article in articles:
        single.upsert([article])
    assert all(stories(batched)[c] == stories(batched)[o] for c, o in copy_of.items())
    assert groups(stories(batched)) == groups(stories(single))

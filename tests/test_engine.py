"""The engine with the real model, FAISS and SQLite: writes, reads, persistence, model guard."""
import pytest

from index.engine import Engine
from index.errors import InvalidInput, ModelMismatch, NotFound
from index.records.article import validate_article

from .conftest import make_engine


def ingest(engine: Engine, rows: list[dict]) -> list[str]:
    return engine.upsert([validate_article(r) for r in rows])


def test_similar_never_returns_the_article_itself(engine, few):
    ingest(engine, few)
    answer = engine.similar(few[0]["id"], k=5)
    ids = [item["id"] for item in answer["items"]]
    assert answer["article"] == {"id": few[0]["id"], "headline": few[0]["headline"], "story_id": few[0]["id"],
                                 "language": "ar"}
    assert 1 <= len(ids) <= 5 and few[0]["id"] not in ids
    scores = [item["score"] for item in answer["items"]]
    assert scores == sorted(scores, reverse=True)
    assert {"id", "headline", "url", "source", "published_at", "section", "language", "story_id", "score",
            "relation", "overlap", "relatedness", "also", "pinned", "shared", "why"} == set(answer["items"][0])


def test_k_larger_than_the_corpus_returns_all_others(engine, few):
    ingest(engine, [few[0], {**few[0], "id": "c1"}, {**few[0], "id": "c2"}])
    assert len(engine.similar(few[0]["id"], k=50, duplicates="include")["items"]) == 2
    with pytest.raises(InvalidInput):
        engine.similar(few[0]["id"], k=0)


def test_exact_copy_is_a_duplicate(engine, few):
    copy = {**few[1], "id": "copy-of-1"}
    ingest(engine, few[:5] + [copy])
    first = engine.similar(few[1]["id"], k=3, duplicates="include")["items"][0]
    assert first["id"] == "copy-of-1" and first["relation"] == "duplicate" and first["score"] >= 0.999


def test_update_and_delete_reach_the_index(engine, few):
    ingest(engine, few[:6])
    target = few[2]["id"]
    # Rewrite article 3 as a copy of article 4: it must now be 4's nearest neighbour.
    ingest(engine, [{**few[3], "id": target}])
    assert engine.similar(few[3]["id"], k=1, duplicates="include")["items"][0]["id"] == target
    engine.delete(target)
    assert target not in [i["id"] for i in engine.similar(few[3]["id"], k=10, duplicates="include")["items"]]
    assert engine.health()["indexed"] == 5
    with pytest.raises(NotFound):
        engine.delete(target)
    with pytest.raises(NotFound):
        engine.similar(target)


def test_language_is_detected_when_absent(engine, few):
    row = {k: v for k, v in few[0].items() if k != "language"}
    ingest(engine, [row, {"id": "en-1", "headline": "The Kremlin calls for calm in the region"}])
    assert engine.get(row["id"]).article.language == "ar"
    assert engine.get("en-1").article.language == "en"


def test_a_second_process_sees_writes_through_the_change_log(tmp_path, e5, few):
    writer = make_engine(tmp_path / "data", e5)
    reader = make_engine(tmp_path / "data", e5)
    ingest(writer, few[:4])
    writer.rebuild()
    assert reader.health()["indexed"] == 4
    ingest(writer, few[4:6])
    writer.delete(few[0]["id"])
    assert reader.health()["indexed"] == 5
    assert few[0]["id"] not in [i["id"] for i in reader.similar(few[1]["id"], k=10)["items"]]


def test_restart_loads_the_snapshot_and_replays_later_writes(tmp_path, e5, few):
    first = make_engine(tmp_path / "data", e5)
    ingest(first, few[:5])
    first.rebuild()
    ingest(first, few[5:7])
    again = make_engine(tmp_path / "data", e5)
    again.load()
    assert again.health()["indexed"] == 7
    assert again.similar(few[6]["id"], k=6)["items"]


def test_rebuild_reuses_cached_vectors(engine, few):
    ingest(engine, few[:5])
    summary = engine.rebuild()
    assert (summary.articles, summary.embedded, summary.cached) == (5, 0, 5)
    assert engine.health()["index_version"] == summary.version


def test_index_built_with_another_model_is_refused(tmp_path, e5, few):
    engine = make_engine(tmp_path / "data", e5)
    ingest(engine, few[:3])
    engine.rebuild()
    other = Engine(tmp_path / "data", model="sentence-transformers:/nowhere")
    with pytest.raises(ModelMismatch, match="rebuild"):
        other.load()


def test_draft_search(engine, few):
    ingest(engine, few)
    row = few[4]
    answer = engine.similar_to_text(row["headline"], row["body"], k=3, duplicates="include")
    assert answer["items"][0]["id"] == row["id"]
    assert answer["items"][0]["relation"] == "duplicate"


def test_health_counts_the_store_again_only_after_it_changed(engine, few, monkeypatch):
    """/healthz is polled every few seconds and a count reads every row: counted once per change."""
    engine.upsert([validate_article(a) for a in few[:3]])
    counts = []
    real_count = engine.store.count
    monkeypatch.setattr(engine.store, "count", lambda: counts.append(1) or real_count())
    assert [engine.health()["articles"] for _ in range(3)] == [3, 3, 3] and len(counts) == 1
    engine.delete(few[0]["id"])
    assert engine.health()["articles"] == 2 and len(counts) == 2
    engine.upsert([validate_article(few[5])])
    assert engine.health()["articles"] == 3

"""Nightly rebuild: swap under load, kill at any moment, writes during a rebuild, damaged files."""
import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from index import crash_points
from index.ann import faiss_index as vectors
from index.records.article import validate_article
from index.records.options import SimilarOptions
from index.store import snapshots

from .conftest import ROOT, TEST_CACHE, clean_environ, make_engine
from .test_answers import fresh


@pytest.fixture
def corpus(sample_rows) -> list[dict]:
    """400 real articles (their vectors are in the shared test cache after the first run)."""
    return [dict(r) for r in sample_rows[:400]]


def fill(engine, rows):
    for start in range(0, len(rows), 200):
        engine.upsert([validate_article(r) for r in rows[start : start + 200]])


def test_readers_see_no_error_and_no_empty_answer_while_versions_swap(tmp_path, e5, corpus):
    writer = make_engine(tmp_path / "data", e5)
    fill(writer, corpus)
    writer.rebuild()
    reader = make_engine(tmp_path / "data", e5)  # another worker of the same server
    probe = corpus[7]["id"]
    failures, answers, stop = [], [], threading.Event()

    def read():
        while not stop.is_set():
            try:
                items = reader.similar(probe, k=5, duplicates="include", min_relatedness=0)["items"]
                health = reader.health()
                if not items or health["indexed"] != len(corpus):
                    failures.append((len(items), health["indexed"]))
                answers.append(health["index_version"])
            except Exception as exc:  # noqa: BLE001 - any error is a failure here
                failures.append(repr(exc))

    thread = threading.Thread(target=read)
    thread.start()
    versions = [writer.rebuild().version for _ in range(4)]
    time.sleep(0.3)
    stop.set()
    thread.join()
    assert failures == []
    assert len(answers) > 20
    assert answers[-1] == versions[-1]  # the reader moved to the newest version without a restart
    assert len(snapshots.versions(writer.index_root)) == writer.keep_versions  # older ones pruned


def test_writes_during_a_rebuild_are_in_the_new_index(tmp_path, e5, corpus, monkeypatch):
    engine = make_engine(tmp_path / "data", e5)
    fill(engine, corpus[:100])
    other = make_engine(tmp_path / "data", e5)  # a server process writing while the rebuild runs
    real_scan = engine.store.scan

    def scan_then_concurrent_writes(batch):
        taken = real_scan(batch)
        other.upsert([validate_article(corpus[150])])
        other.delete(corpus[3]["id"])
        return taken

    monkeypatch.setattr(engine.store, "scan", scan_then_concurrent_writes)
    engine.rebuild()
    fresh = make_engine(tmp_path / "data", e5)
    fresh.load()
    for view in (engine, other, fresh):
        assert view.health()["indexed"] == 100
        ids = {i["id"] for i in view.similar(corpus[150]["id"], k=100, duplicates="include", min_relatedness=0)["items"]}
        assert corpus[3]["id"] not in ids  # nothing resurrected
    assert fresh.similar(corpus[150]["id"], k=1, duplicates="include", min_relatedness=0)["items"]  # nothing lost


def command(data_dir, *args, crash_at=None):
    """`python -m service ARGS` on `data_dir` (killed at the named crash point, if any): (code, output)."""
    env = {**clean_environ(), "DATA_DIR": str(data_dir), "EMBEDDING_CACHE": str(TEST_CACHE), "JSON_LOGS": "0"}
    if crash_at:
        env[crash_points.ENVIRONMENT] = crash_at
    done = subprocess.run([sys.executable, "-m", "service", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


# Where the rebuild is killed, and whether the new version is live after it.
KILLS = {"rebuild:embedded": False, "rebuild:written": False, "rebuild:switched": True, "rebuild:warming": True}


@pytest.mark.parametrize("point, switched", KILLS.items())
def test_a_rebuild_killed_at_each_stage_harms_nothing(tmp_path, e5, corpus, point, switched):
    data = tmp_path / "data"
    engine = make_engine(data, e5)
    fill(engine, corpus)
    first = engine.rebuild()
    code, output = command(data, "rebuild", crash_at=point)
    assert code == -signal.SIGKILL, output  # the kill landed where it was meant to
    live = make_engine(data, e5)
    live.load()
    health = live.health()
    assert health["articles"] == health["indexed"] == len(corpus)
    assert (health["index_version"] != first.version) is switched
    assert live.similar(corpus[0]["id"], k=3, duplicates="include", min_relatedness=0)["items"]
    code, output = command(data, "rebuild")
    assert code == 0, output
    assert not list((data / "index").glob(".tmp-*"))
    assert len(snapshots.versions(data / "index")) <= 3
    after = make_engine(data, e5)
    assert after.similar(corpus[0]["id"], k=3) == fresh(after, corpus[0]["id"], SimilarOptions(k=3))


def test_an_ingest_killed_before_linking_is_linked_at_the_next_start(tmp_path, e5, corpus):
    data = tmp_path / "data"
    engine = make_engine(data, e5)
    fill(engine, corpus[:100])
    copies = [{**row, "id": row["id"] + "-copy", "source": "another outlet"} for row in corpus[:30]]
    source = tmp_path / "copies.jsonl"
    source.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in copies), encoding="utf-8")
    code, output = command(data, "ingest", str(source), crash_at="ingest:stored")
    assert code == -signal.SIGKILL, output
    restarted = make_engine(data, e5)
    assert restarted.store.count() == 130  # stored in one transaction, before the kill
    assert [restarted.get(c["id"]).story_id for c in copies] == [c["id"] for c in copies]  # not linked yet
    with restarted.store.writing():  # a writer at work: its unlinked articles are not repaired
        assert restarted.repair_links() == 0
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, output = command(data, "ingest", str(empty))  # a start, as operations make one
    assert code == 0, output
    after = make_engine(data, e5)
    for copy in copies:
        assert after.get(copy["id"]).story_id == after.get(copy["id"][: -len("-copy")]).story_id
    assert after.repair_links() == 0


def test_damaged_versions_fall_back_then_to_the_store(tmp_path, e5, corpus):
    engine = make_engine(tmp_path / "data", e5)
    fill(engine, corpus[:50])
    older = engine.rebuild()
    newer = engine.rebuild()
    (engine.index_root / newer.version / snapshots.VECTORS).write_bytes(b"truncated")
    restarted = make_engine(tmp_path / "data", e5)
    restarted.load()
    assert restarted.health()["index_version"] == older.version and restarted.health()["indexed"] == 50
    (engine.index_root / older.version / snapshots.VECTORS).write_bytes(b"")
    from_store = make_engine(tmp_path / "data", e5)
    from_store.load()  # no version loads: the index is built from the store and the cache
    assert from_store.health()["indexed"] == 50
    assert from_store.similar(corpus[1]["id"], k=2, duplicates="include", min_relatedness=0)["items"]
    assert make_engine(tmp_path / "data", e5).rebuild().articles == 50  # and the next rebuild repairs it


def test_large_corpora_get_an_approximate_index(tmp_path, e5, corpus, monkeypatch):
    monkeypatch.setattr(vectors, "FLAT_MAX", 100)
    engine = make_engine(tmp_path / "data", e5)
    fill(engine, corpus)
    summary = engine.rebuild()
    assert summary.index_type == "hnsw" and engine.health()["index_type"] == "hnsw"
    restarted = make_engine(tmp_path / "data", e5)
    restarted.load()
    assert restarted.health()["index_type"] == "hnsw"
    item = restarted.similar(corpus[5]["id"], k=1, duplicates="include", min_relatedness=0)["items"]
    assert item and item[0]["id"] != corpus[5]["id"]


def test_rebuild_from_a_cms_export_reconciles_and_prunes_only_when_asked(runner, engine, corpus, tmp_path):
    fill(engine, corpus[:10])
    export = tmp_path / "export.jsonl"
    changed = {**corpus[0], "headline": corpus[0]["headline"] + " (محدث)"}
    rows = [changed] + corpus[1:8] + corpus[10:12]  # 8 and 9 are missing from the export
    export.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = runner.invoke(args=["rebuild", "--from", str(export)])
    assert result.exit_code == 0, result.output
    assert "3 upserted, 7 unchanged, 0 removed" in result.output
    assert engine.get(corpus[0]["id"]).article.headline.endswith("(محدث)")
    assert engine.store.count() == 12
    result = runner.invoke(args=["rebuild", "--from", str(export), "--prune"])
    assert "0 upserted, 10 unchanged, 2 removed" in result.output
    assert engine.store.count() == 10 and engine.health()["indexed"] == 10
    assert runner.invoke(args=["rebuild", "--prune"]).exit_code != 0

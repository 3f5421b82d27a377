"""The PostgreSQL store, on a real private server: its change log is read in commit order."""
import threading
import time

import pytest

from index.records.article import Article
from index.text.overlap import fingerprint

pytest.importorskip("psycopg")


def article(i: int) -> Article:
    return Article(id=f"a{i}", headline=f"خبر رقم {i}", body="نص")


def put(store, *articles: Article) -> None:
    store.upsert(list(articles), [f"e-{a.id}" for a in articles], [fingerprint(a.headline, a.body) for a in articles])


def test_a_number_taken_first_and_committed_last_is_not_missed_by_a_replica(database_url):
    import psycopg
    from psycopg.rows import dict_row

    from index.store.pg_store import ChangeBatch, PgConn, PostgresStore

    writer, replica = PostgresStore(database_url), PostgresStore(database_url)
    put(writer, article(0))
    seen = replica.changes_since(0).seq
    x = writer.get("a0").key
    # Transaction A takes the next number (a change of article a0) and does not commit yet.
    slow = psycopg.connect(database_url, row_factory=dict_row)
    batch = ChangeBatch(writer.dialect, PgConn(slow))
    batch.vector(x, "e-late", "كلمة")
    batch.write()
    # Transaction B, begun after it, writes another article: it must wait for A to end.
    done = threading.Event()
    later = threading.Thread(target=lambda: (put(writer, article(1)), done.set()))
    later.start()
    time.sleep(0.5)
    assert not done.is_set(), "a later writer committed while an earlier number was still in flight"
    assert replica.changes_since(seen).seq == seen  # neither is visible yet
    slow.commit()
    later.join(10)
    assert done.is_set()
    after = replica.changes_since(seen)
    assert after.current == {x: "e-a0", writer.get("a1").key: "e-a1"}
    assert (x, "e-late") in after.stored_with and after.seq == seen + 2
    slow.close()
    writer.close()
    replica.close()


def test_a_write_and_a_delete_reach_another_process_through_the_log(database_url):
    from index.store.pg_store import PostgresStore

    a, b = PostgresStore(database_url), PostgresStore(database_url)
    put(a, article(1), article(2))
    assert b.get("a1").article.headline == "خبر رقم 1"
    assert b.delete("a2") and a.get("a2") is None
    changes = a.changes_since(0)
    assert set(changes.current.values()) == {"e-a1", None}  # a2's tombstone
    a.close()
    b.close()


def run_at_once(jobs) -> list[BaseException]:
    """Run the callables in threads started together; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job) -> None:
        start.wait()
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - the test reports them
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_concurrent_writers_of_the_same_articles_neither_deadlock_nor_starve_the_pool(database_url):
    from index.store.pg_store import PostgresStore

    store = PostgresStore(database_url, pool_size=2)  # fewer connections than writers
    batch = [article(i) for i in range(12)]
    put(store, *batch)

    def write(order: list[Article]) -> None:
        with store.writing():  # as the engine's writers do: the lock, then the write
            put(store, *order)
            store.set_stories([(store.get(a.id).key, "story") for a in reversed(order)])
            store.set_pins("a0", [a.id for a in order[:3]])

    assert run_at_once([lambda o=o: write(o) for o in (batch, batch[::-1]) * 3]) == []
    assert store.count() == 12 and len(store.pinned("a0")) == 3
    seen = store.changes_since(0)
    assert seen.seq == store.last_change() and set(seen.current) == {store.get(a.id).key for a in batch}
    store.close()


def test_a_replica_copies_the_published_version_keeps_only_what_the_database_keeps_and_never_goes_back(
        database_url, tmp_path):
    from index.ann.faiss_index import VectorIndex
    from index.store import snapshots
    from index.store.pg_store import PostgresStore

    store = PostgresStore(database_url)
    built, replica = tmp_path / "rebuilder", tmp_path / "replica"
    names = []
    for seq in range(4):
        names.append(snapshots.write_snapshot(built, VectorIndex(4), "m", seq=seq).version)
        store.versions.publish(built, names[-1], keep=2)
        assert store.versions.mirror(replica)
        assert snapshots.current_version(replica) == names[-1]
    assert snapshots.versions(replica) == names[-2:] and store.versions.kept_seqs() == [2, 3]
    assert snapshots.read_snapshot(replica, names[-1])[0].sha256 == snapshots.read_meta(built, names[-1]).sha256
    newer = snapshots.write_snapshot(replica, VectorIndex(4), "m", seq=9).version  # a rebuild in this folder
    assert not store.versions.mirror(replica) and snapshots.current_version(replica) == newer
    store.close()


def test_shared_answers_round_trip_and_older_versions_go(database_url):
    from index.store.pg_store import PostgresStore

    store = PostgresStore(database_url)
    table = store.answer_table()
    table.write(("v1", "a1", "{}"), (7, float("-inf"), 3, "كلمة word", b"\x00body"))
    table.write(("v1", "a1", "{}"), (7, 0.91, 4, "", b"newer"))  # the same key files over
    table.write(("v2", "a1", "{}"), (7, float("-inf"), 5, "w", b"v2"))
    assert table.read(("v1", "a1", "{}")) == (7, 0.91, 4, "", b"newer")
    assert table.read(("v2", "a1", "{}")) == (7, float("-inf"), 5, "w", b"v2")
    assert table.read(("v2", "nope", "{}")) is None
    table.keep_only("v2")
    assert (table.count("v1"), table.count("v2")) == (0, 1)
    store.close()


def test_requests_get_503_while_the_database_is_down_and_answers_again_after(tmp_path, e5, few):
    from service import create_app
    from tests.postgres_server import PostgresServer

    from .conftest import make_engine

    with PostgresServer(fsync=True) as server:  # (without fsync, a crash may lose the last commits)
        url = server.new_database()
        engine = make_engine(tmp_path / "data", e5, database_url=url)
        client = create_app({"TESTING": True, "DATA_DIR": str(engine.data_dir), "DATABASE_URL": url,
                             "ALLOW_LOCAL_WRITES": 1}, engine=engine).test_client()
        assert client.post("/v1/articles", json={"articles": few[:3]}).status_code == 200
        server.stop()
        down = client.get(f"/v1/articles/{few[0]['id']}")
        assert down.status_code == 503 and down.headers["Retry-After"] == "5"
        assert down.get_json()["error"]["code"] == "database_unavailable"
        server.start()
        assert client.get(f"/v1/articles/{few[0]['id']}").status_code == 200  # nothing stored was lost
        engine.store.close()

"""The PostgreSQL store, on a real private server: its change log is read in commit order."""
import threading
import time

import pytest

from index.article import Article
from index.relations import fingerprint

pytest.importorskip("psycopg")


def article(i: int) -> Article:
    return Article(id=f"a{i}", headline=f"خبر رقم {i}", body="نص")


def put(store, *articles: Article) -> None:
    store.upsert(list(articles), [f"e-{a.id}" for a in articles], [fingerprint(a.headline, a.body) for a in articles])


def test_a_number_taken_first_and_committed_last_is_not_missed_by_a_replica(database_url):
    import psycopg
    from psycopg.rows import dict_row

    from index.pg_store import ChangeBatch, PostgresStore

    writer, replica = PostgresStore(database_url), PostgresStore(database_url)
    put(writer, article(0))
    seen = replica.changes_since(0).seq
    x = writer.get("a0").key
    # Transaction A takes the next number (a change of article a0) and does not commit yet.
    slow = psycopg.connect(database_url, row_factory=dict_row)
    batch = ChangeBatch(slow)
    batch.vector(x, "e-late", frozenset({"كلمة"}))
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
    from index.pg_store import PostgresStore

    a, b = PostgresStore(database_url), PostgresStore(database_url)
    put(a, article(1), article(2))
    assert b.get("a1").article.headline == "خبر رقم 1"
    assert b.delete("a2") and a.get("a2") is None
    changes = a.changes_since(0)
    assert set(changes.current.values()) == {"e-a1", None}  # a2's tombstone
    a.close()
    b.close()

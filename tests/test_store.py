from index.records.article import Article
from index.text.overlap import fingerprint
from index.store.sqlite_store import ArticleStore


def article(i: int, headline: str = "h") -> Article:
    return Article(id=f"a{i}", headline=f"{headline} {i}", body="b", tags=["x"])


def fps(*articles: Article) -> list:
    return [fingerprint(a.headline, a.body) for a in articles]


def test_upsert_keeps_the_key_and_logs_each_change(open_test_store):
    store = open_test_store()
    store.upsert([article(1), article(2)], ["e1", "e2"], fps(article(1), article(2)))
    key = store.get("a1").key
    store.upsert([article(1, "new")], ["e1b"], fps(article(1, "new")))
    again = store.get("a1")
    assert again.key == key and again.article.headline == "new 1" and again.embed_key == "e1b"
    assert again.article.tags == ["x"]
    assert store.count() == 2
    changes = store.changes_since(0)
    a2 = store.get("a2").key
    assert changes.seq == 3 and changes.current == {key: "e1b", a2: "e2"}
    assert changes.stored_with == {(key, "e1"), (key, "e1b"), (a2, "e2")}  # every vector a1 had
    store.set_stories([(key, "a2")])
    later = store.changes_since(changes.seq)
    assert (later.current, later.display_only) == ({}, {key})  # a display change: the vector stays


def test_delete_logs_a_tombstone(open_test_store):
    store = open_test_store()
    store.upsert([article(1)], ["e1"], fps(article(1)))
    key = store.get("a1").key
    seq = store.changes_since(0).seq
    assert store.delete("a1") is True
    assert store.delete("a1") is False
    assert store.get("a1") is None
    assert store.changes_since(seq).current == {key: None}


def test_failed_transaction_stores_nothing(open_test_store):
    store = open_test_store()
    store.upsert([article(1)], ["e1"], fps(article(1)))
    try:
        store.upsert([article(2), article(3)], ["e2"], fps(article(2), article(3)))  # one key short: zip(strict=True) fails mid-way
    except ValueError:
        pass
    assert store.count() == 1 and store.get("a2") is None


def test_data_survives_reopening(open_test_store):
    open_test_store().upsert([article(1)], ["e1"], fps(article(1)))
    assert open_test_store().get("a1").article.headline == "h 1"


def test_headline_search_escapes_wildcards(open_test_store):
    store = open_test_store()
    pair = [Article(id="p", headline="100% up"), Article(id="q", headline="1000 up")]
    store.upsert(pair, ["e1", "e2"], fps(*pair))
    total, rows = store.search_headlines("100%", 10, 0)
    assert total == 1 and rows[0].article.id == "p"
    assert store.search_headlines("", 10, 0)[0] == 2


def test_new_and_updated_articles_start_their_own_story(open_test_store):
    store = open_test_store()
    store.upsert([article(1), article(2)], ["e1", "e2"], fps(article(1), article(2)))
    keys = [store.get("a1").key, store.get("a2").key]
    store.set_stories([(keys[0], "a2"), (keys[1], "a2")])
    assert {s.article.id for s in store.story_members(["a2"])} == {"a1", "a2"}
    store.upsert([article(1, "changed")], ["e1c"], fps(article(1, "changed")))
    assert store.get("a1").story_id == "a1"
    assert store.get("a1").fingerprint.headline_hash == fingerprint("changed 1", "b").headline_hash


def test_meta_values(open_test_store):
    store = open_test_store()
    assert store.get_meta("x") is None
    store.set_meta("x", b"\x01\x02")
    assert store.get_meta("x") == b"\x01\x02"


def test_a_store_from_before_fingerprints_and_stories_is_migrated(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE articles (key INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, headline TEXT NOT NULL,"
        " body TEXT NOT NULL, url TEXT, source TEXT, published_at TEXT, language TEXT, section TEXT, tags TEXT NOT NULL,"
        " embed_key TEXT NOT NULL, updated_at TEXT NOT NULL);"
        "INSERT INTO articles (id, headline, body, tags, embed_key, updated_at) VALUES ('x', 'h', 'b', '[]', 'e', 'now');"
    )
    old.commit()
    old.close()
    store = ArticleStore(path)
    migrated = store.get("x")
    assert migrated.fingerprint is None and migrated.story_id == "x"
    store.upsert([article(2)], ["e2"], fps(article(2)))
    assert store.get("a2").fingerprint is not None

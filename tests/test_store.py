"""The store's interface (`base.Store`), every method on both stores: `store` is a SQLite file, then a
database on a private PostgreSQL server (skipped where PostgreSQL or psycopg is missing)."""
import pytest

from index.records.article import Article
from index.store.sqlite_store import ArticleStore
from index.text import lexical
from index.text.overlap import fingerprint


def article(i: int, headline: str = "h", **more) -> Article:
    return Article(id=f"a{i}", headline=f"{headline} {i}", body="b", tags=["x"], **more)


def fps(*articles: Article) -> list:
    return [fingerprint(a.headline, a.body) for a in articles]


def put(store, *articles: Article, **options) -> None:
    store.upsert(list(articles), [f"e-{a.id}" for a in articles], fps(*articles), **options)


def ids(stored) -> list[str]:
    return [s.article.id for s in stored]


@pytest.fixture
def store(open_test_store):
    """An empty store, once on SQLite and once on PostgreSQL."""
    return open_test_store()


def test_upsert_keeps_the_key_and_logs_each_change(store):
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


def test_an_id_repeated_in_one_upsert_is_stored_once_the_last_one_winning(store):
    store.upsert([article(1, "first"), article(2), article(1, "second")], ["e1", "e2", "e1b"],
                 fps(article(1, "first"), article(2), article(1, "second")))
    assert store.count() == 2 and store.get("a1").article.headline == "second 1"
    assert store.get("a1").embed_key == "e1b"
    assert store.changes_since(0).stored_with == {(store.get("a1").key, "e1"), (store.get("a1").key, "e1b"),
                                                  (store.get("a2").key, "e2")}


def test_given_words_are_indexed_and_linking_is_tracked(store):
    put(store, article(1), article(2), terms=["كاراباخ", "كاراباخ الكرملين"])
    put(store, article(3), linked=True)
    assert store.unlinked_ids() == ["a1", "a2"]  # in key order
    assert store.words.words([store.get("a2").key]) == {store.get("a2").key: frozenset({"كاراباخ", "الكرملين"})}
    store.mark_linked(["a2", "a1"])
    assert store.unlinked_ids() == []
    put(store, article(3, "changed"))  # an update starts unlinked again
    assert store.unlinked_ids() == ["a3"]
    store.mark_linked([])


def test_delete_logs_a_tombstone(store):
    store.upsert([article(1)], ["e1"], fps(article(1)))
    key = store.get("a1").key
    seq = store.changes_since(0).seq
    assert store.delete("a1") is True
    assert store.delete("a1") is False
    assert store.get("a1") is None
    assert store.changes_since(seq).current == {key: None}
    assert store.words.words([key]) == {}


def test_failed_transaction_stores_nothing(store):
    store.upsert([article(1)], ["e1"], fps(article(1)))
    with pytest.raises(ValueError):  # one key short: zip(strict=True) fails mid-way
        store.upsert([article(2), article(3)], ["e2"], fps(article(2), article(3)))
    assert store.count() == 1 and store.get("a2") is None


def test_data_survives_reopening(open_test_store):
    open_test_store().upsert([article(1)], ["e1"], fps(article(1)))
    assert open_test_store().get("a1").article.headline == "h 1"


def test_reads_by_id_and_by_key(store):
    put(store, article(1), Article(id="long", headline="h", body="x" * 500, url="u", source="s",
                                   published_at="2017-02-01T00:00:00Z", language="ar", section="sport"))
    one, long = store.get("a1"), store.get("long")
    assert store.get("nope") is None
    assert store.get_many(["long", "nope", "a1"]) == {"a1": one, "long": long}
    assert store.get_many([]) == {}
    assert store.get_by_keys([long.key, 10**9, one.key]) == {one.key: one, long.key: long}
    assert long.article == Article(id="long", headline="h", body="x" * 500, url="u", source="s",
                                   published_at="2017-02-01T00:00:00Z", language="ar", section="sport")
    assert store.get_by_keys([long.key], body_chars=10)[long.key].article.body == "x" * 10
    assert sorted(store.all_ids()) == ["a1", "long"] and store.count() == 2
    assert long.fingerprint == fingerprint("h", "x" * 500)


def test_the_newest_come_first_undated_last_ties_by_the_newer_key(store):
    dated = [article(1, published_at="2017-02-01T10:00:00Z", section="sport"),
             article(2, published_at="2017-02-03T10:00:00Z", section="world"),
             article(3), article(4, published_at="2017-02-01T10:00:00Z", section="sport"),
             article(5, published_at="2017-02-02T10:00:00Z", section="sport")]
    for a in dated:  # one at a time: keys in this order
        put(store, a)
    assert store.newest_ids(10) == ["a2", "a5", "a4", "a1", "a3"]
    assert store.newest_ids(2) == ["a2", "a5"]
    assert ids(store.newest(None, None, 10)) == ["a2", "a5", "a4", "a1", "a3"]
    assert ids(store.newest("sport", None, 10)) == ["a5", "a4", "a1"]
    assert ids(store.newest("sport", "2017-02-01T23:00:00Z", 10)) == ["a4", "a1"]
    assert ids(store.newest(None, "2017-02-02T10:00:00Z", 2)) == ["a5", "a4"]
    assert store.newest(None, None, 1, body_chars=0)[0].article.body == ""


def test_a_snapshot_and_a_scan_read_every_article_in_key_order_with_the_log_position(store):
    put(store, *[article(i) for i in range(7)])
    store.delete("a3")
    seq, everything = store.snapshot()
    assert seq == store.last_change() == 8 and ids(everything) == ["a0", "a1", "a2", "a4", "a5", "a6"]
    assert [s.key for s in everything] == sorted(s.key for s in everything)
    seq, count, batches = store.scan(4)
    batches = list(batches)
    assert (seq, count, [len(b) for b in batches]) == (8, 6, [4, 2])
    assert [s for b in batches for s in b] == everything


def test_headline_search_escapes_wildcards(store):
    pair = [Article(id="p", headline="100% up"), Article(id="q", headline="1000 up")]
    store.upsert(pair, ["e1", "e2"], fps(*pair))
    total, rows = store.search_headlines("100%", 10, 0)
    assert total == 1 and rows[0].article.id == "p"
    assert store.search_headlines("", 10, 0)[0] == 2
    assert store.search_headlines("1_00", 10, 0)[0] == 0 and store.search_headlines("\\", 10, 0)[0] == 0


def test_headline_search_ignores_ascii_case_and_pages_newest_first(store):
    found = [Article(id="old", headline="Gaza talks", published_at="2017-02-01T00:00:00Z"),
             Article(id="undated", headline="gaza TALKS again"),
             Article(id="new", headline="More GAZA talks", published_at="2017-03-01T00:00:00Z"),
             Article(id="other", headline="غزة", published_at="2017-04-01T00:00:00Z")]
    store.upsert(found, ["e"] * 4, fps(*found))
    total, rows = store.search_headlines("gaza talks", 2, 0)
    assert total == 3 and ids(rows) == ["new", "old"]
    assert ids(store.search_headlines("Gaza TALKS", 2, 2)[1]) == ["undated"]
    assert ids(store.search_headlines("غز", 10, 0)[1]) == ["other"]


def test_forgotten_changes_are_not_read_again_and_the_numbering_goes_on(store):
    put(store, article(1), article(2))
    store.forget_changes_before(store.last_change())
    assert store.changes_since(0).current == {} and store.last_change() == 2
    put(store, article(3))
    assert store.last_change() == 3 and store.changes_since(0).current == {store.get("a3").key: "e-a3"}


def test_embed_keys_and_fingerprints_are_set_without_a_change(store):
    put(store, article(1), article(2))
    k1, k2, seq = store.get("a1").key, store.get("a2").key, store.last_change()
    store.set_embed_keys([(k2, "new-2"), (k1, "new-1")])
    store.set_embed_keys([])
    other = fingerprint("another headline", "another body")
    store.set_fingerprints([(k1, other)])
    store.set_fingerprints([])
    assert (store.get("a1").embed_key, store.get("a2").embed_key) == ("new-1", "new-2")
    assert store.get("a1").fingerprint == other and store.last_change() == seq


def test_new_and_updated_articles_start_their_own_story(store):
    store.upsert([article(1), article(2)], ["e1", "e2"], fps(article(1), article(2)))
    keys = [store.get("a1").key, store.get("a2").key]
    store.set_stories([(keys[0], "a2"), (keys[1], "a2")])
    assert {s.article.id for s in store.story_members(["a2"])} == {"a1", "a2"}
    assert {s.article.id for s in store.story_members(["a2", "a1", "a2"])} == {"a1", "a2"}
    store.upsert([article(1, "changed")], ["e1c"], fps(article(1, "changed")))
    assert store.get("a1").story_id == "a1"
    assert store.get("a1").fingerprint.headline_hash == fingerprint("changed 1", "b").headline_hash
    assert ids(store.story_members(["a1"])) == ["a1"] and store.story_members([]) == []


def test_pins_keep_the_editors_order_and_their_changes_are_display_changes(store):
    put(store, *[article(i) for i in range(4)])
    key = {f"a{i}": store.get(f"a{i}").key for i in range(4)}
    seq = store.last_change()
    store.set_pins("a0", ["a3", "a1"])
    assert ids(store.pinned("a0")) == ["a3", "a1"]
    pinned = store.changes_since(seq)
    assert (pinned.current, pinned.display_only) == ({}, {key["a0"]})  # the pinner only
    store.set_pins("a0", ["a2"])
    assert ids(store.pinned("a0")) == ["a2"] and store.pinned("a3") == []
    store.set_pins("nope", ["a1"])  # an article not stored: its pins are kept, no change logged for it
    assert ids(store.pinned("nope")) == ["a1"]


def test_a_change_of_a_pinned_article_is_a_display_change_of_the_articles_pinning_it(store):
    put(store, *[article(i) for i in range(4)])
    key = {f"a{i}": store.get(f"a{i}").key for i in range(4)}
    store.set_pins("a0", ["a2"])
    store.set_pins("a1", ["a2", "a3"])
    seq = store.last_change()
    put(store, article(2, "changed"))
    assert store.changes_since(seq).display_only == {key["a0"], key["a1"]}
    seq = store.last_change()
    store.set_stories([(key["a3"], "a3")])
    assert store.changes_since(seq).display_only == {key["a3"], key["a1"]}
    seq = store.last_change()
    assert store.delete("a2")
    after = store.changes_since(seq)
    assert after.current == {key["a2"]: None} and after.display_only == {key["a0"], key["a1"]}
    assert store.pinned("a0") == [] and ids(store.pinned("a1")) == ["a3"]  # its pins went with it


def test_an_article_pinned_before_it_is_stored_logs_its_pinner_when_stored(store):
    put(store, article(0))
    store.set_pins("a0", ["a9"])
    assert store.pinned("a0") == []  # not stored: not shown
    seq = store.last_change()
    put(store, article(9))
    assert ids(store.pinned("a0")) == ["a9"]
    assert store.changes_since(seq).display_only == {store.get("a0").key}


def test_meta_values(store):
    assert store.get_meta("x") is None
    store.set_meta("x", b"\x01\x02")
    assert store.get_meta("x") == b"\x01\x02"
    store.set_meta("x", b"")
    assert store.get_meta("x") == b""


def test_the_word_index_is_searched_counted_and_compacted(store):
    put(store, Article(id="k1", headline="الكرملين وكاراباخ"), Article(id="k2", headline="كاراباخ اليوم"),
        *[Article(id=f"f{i}", headline=f"خبر عام {i}") for i in range(20)])
    frequencies = store.words.frequencies()
    assert frequencies.docs["كاراباخ"] == 2 and frequencies.total == 22
    asked = lexical.lexical_query(["الكرملين", "كاراباخ"], frequencies)
    hits = store.words.search(asked, 5)
    assert [key for key, _ in hits] == [store.get("k1").key, store.get("k2").key]
    assert store.words.compact() >= 1 and store.words.search(asked, 5) == hits
    assert store.words.search(lexical.lexical_query([], frequencies), 5) == []


def test_the_writers_lock_is_shared_by_writers_and_had_alone_by_a_repair(store):
    with store.writing() as shared:
        assert shared
        with store.writing() as again, store.writing(exclusive=True) as alone:
            assert again and not alone
    with store.writing(exclusive=True) as alone:
        assert alone
    assert store.lost() is None


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
    assert ids(store.story_members(["x"])) == ["x"]  # no story_id stored: its own story
    store.upsert([article(2)], ["e2"], fps(article(2)))
    assert store.get("a2").fingerprint is not None
    store.close()


def test_a_sqlite_store_removed_or_replaced_under_the_process_says_so(tmp_path):
    store = ArticleStore(tmp_path / "s.sqlite")
    assert store.lost() is None
    (tmp_path / "s.sqlite").rename(tmp_path / "moved.sqlite")
    assert "removed" in store.lost()
    ArticleStore(tmp_path / "s.sqlite").close()
    assert "replaced" in store.lost()
    store.close()

"""Lexical neighbours: the store's word index follows every write, and a query asks for an article's
rarest words, the corpus's document frequencies deciding."""
import sqlite3

from index.records.article import Article
from index.store.base import Store
from index.store.sqlite_store import ArticleStore
from index.text import lexical
from index.text.overlap import fingerprint


def put(store: Store, *articles: Article) -> None:
    store.upsert(list(articles), [f"e-{a.id}" for a in articles], [fingerprint(a.headline, a.body) for a in articles])


def neighbours(store: Store, headline: str, body: str = "") -> list[str]:
    asked = lexical.lexical_query(lexical.words_of(headline, body), store.words.frequencies())
    keys = [key for key, _ in store.words.search(asked, 10)]
    found = store.get_by_keys(keys)
    return [found[key].article.id for key in keys]


def filler(n: int) -> list[Article]:
    return [Article(id=f"f{i}", headline=f"خبر عام رقم {i}", body="أعلنت الحكومة اليوم عن خطة جديدة للاقتصاد") for i in range(n)]


def test_words_are_normalised_without_proclitics_and_function_words():
    assert lexical.words_of("الكرملين يدعو إلى ضبط النفس في إقليم ناجورنو كاراباخ", "") == \
        lexical.words_of("والكرملين يدعو الى ضبط النفس في إقلیم ناجورنو کاراباخ", "")
    assert "في" not in lexical.words_of("في", "") and "الى" not in lexical.words_of("إلى", "")


def test_articles_sharing_rare_names_are_found_and_common_words_do_not_count(open_test_store):
    store = open_test_store()
    put(store, *filler(60),
        Article(id="k1", headline="الكرملين يدعو إلى ضبط النفس في ناجورنو كاراباخ", body="أعلنت الحكومة"),
        Article(id="k2", headline="اشتباكات جديدة على حدود كاراباخ", body="قال الكرملين إن الوضع خطير"))
    assert neighbours(store, "موسكو: الكرملين قلق من التصعيد في كاراباخ")[:2] in (["k1", "k2"], ["k2", "k1"])
    # Words most articles hold are not asked for: a text made of them finds nothing.
    assert neighbours(store, "أعلنت الحكومة خطة جديدة للاقتصاد") == []


def test_the_word_index_follows_updates_and_deletes_and_the_change_log_keeps_words_before_and_after(open_test_store):
    store = open_test_store()
    put(store, *filler(30), Article(id="k1", headline="الكرملين وكاراباخ", body=""),
        Article(id="k2", headline="كاراباخ اليوم", body=""))
    counted = store.words.frequencies()
    assert counted.docs["كاراباخ"] == 2 and counted.total == 32
    assert lexical.Frequencies.from_blob(counted.to_blob()).digest == counted.digest
    seq = store.last_change()
    put(store, Article(id="k1", headline="مباراة كرة القدم", body=""))  # rewritten: its words change
    assert neighbours(store, "كاراباخ الكرملين") == ["k2"]
    assert store.delete("k2")
    assert neighbours(store, "كاراباخ الكرملين") == []
    changes = store.changes_since(seq)
    k1 = store.get("k1").key
    # An answer that asked for "كاراباخ" learns that k1 held it before, and k2 until deleted.
    assert set(lexical.words_of("الكرملين وكاراباخ مباراة", "")) <= changes.words[k1]
    assert "كاراباخ" in next(words for key, words in changes.words.items() if key != k1)
    assert store.words.frequencies().docs.get("كاراباخ", 0) == 0


def test_a_word_no_article_held_counts_as_rare_and_ties_break_alike():
    frequencies = lexical.Frequencies({"common": 50, "name": 2}, 100)
    asked = lexical.lexical_query(["common", "name", "brandnew", "brandnew"], frequencies)
    assert list(asked.idf) == ["brandnew", "name"]  # "common" is in more than 5% of the articles
    assert asked.shared(frozenset({"name"})) == asked.idf["name"] / asked.weight


def test_a_store_made_before_the_word_index_gets_it_at_open(tmp_path):
    path = tmp_path / "s.sqlite"
    store = ArticleStore(path)
    put(store, *filler(30), Article(id="k1", headline="الكرملين وكاراباخ", body=""))
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE lexical_vocab")
        conn.execute("DROP TABLE lexical")
    reopened = ArticleStore(path)
    assert neighbours(reopened, "كاراباخ") == ["k1"]

"""The word index's fast search (a word's keys at a time, FTS5's segments merged at a rebuild) answers
exactly what a plain computation over the articles' words does: same keys, same weights, same order.
Speed is measured by bench/word_index.py, not here."""
from __future__ import annotations

import sqlite3
import threading
from collections import Counter

import numpy as np
import pytest

from index.store import word_index
from index.text import lexical

DEPTH = 31


@pytest.fixture(scope="module")
def sample_words(sample_rows) -> dict[int, list[str]]:
    """The indexed words of every sample article, by key (1, 2, ...)."""
    return {key: lexical.words_of(row["headline"], row["body"]) for key, row in enumerate(sample_rows, start=1)}


@pytest.fixture(scope="module")
def sample_sets(sample_words) -> dict[int, frozenset[str]]:
    return {key: frozenset(words) for key, words in sample_words.items()}


def reference(words_by_key: dict[int, frozenset[str]], query: lexical.LexicalQuery, depth: int) -> list[tuple[int, float]]:
    """The search done plainly: each searched word's articles, each adding the word's idf in turn."""
    held: Counter[int] = Counter()
    for word in query.searched:
        for key in sorted(k for k, words in words_by_key.items() if word in words):
            held[key] += query.idf[word]
    return sorted(held.items(), key=lambda hit: (-hit[1], hit[0]))[:depth]


def queries(sample_words: dict[int, list[str]], frequencies: lexical.Frequencies) -> list[lexical.LexicalQuery]:
    """Every 7th sample article's words asked for, and its headline's alone (fewer, rarer words)."""
    keys = sorted(sample_words)[::7]
    asked = [lexical.lexical_query(sample_words[k], frequencies) for k in keys]
    asked += [lexical.lexical_query(sample_words[k][:8], frequencies) for k in keys]
    return [q for q in asked if q.searched]


def sqlite_index(path, sample_words: dict[int, list[str]], per_transaction: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.executescript(word_index.SCHEMA)
    keys = sorted(sample_words)
    for start in range(0, len(keys), per_transaction):  # a write transaction each: FTS5 adds a segment each
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO lexical (rowid, terms) VALUES (?, ?)",
                         [(k, " ".join(sample_words[k])) for k in keys[start : start + per_transaction]])
        conn.execute("COMMIT")
    return conn


def segments(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(DISTINCT segid) FROM lexical_idx").fetchone()[0]


def test_the_search_answers_as_a_plain_computation_before_and_after_compacting(tmp_path, sample_words, sample_sets):
    conn = sqlite_index(tmp_path / "w.sqlite", sample_words, per_transaction=50)
    words = word_index.WordIndex(conn, threading.RLock())
    asked = queries(sample_words, words.frequencies())
    assert len(asked) > 500 and sum(len(q.searched) == lexical.SEARCH_TERMS for q in asked) > 100
    expected = [reference(sample_sets, q, DEPTH) for q in asked]
    assert sum(len(e) == DEPTH for e in expected) > 100  # queries whose answers were cut at the depth
    # Ties of weight, broken by the older key, are common: the order there is checked too.
    assert sum(any(a[1] == b[1] for a, b in zip(e, e[1:])) for e in expected) > 100
    assert [words.search(q, DEPTH) for q in asked] == expected

    assert segments(conn) > 4
    assert words.compact() > 1
    assert segments(conn) == 1
    assert [words.search(q, DEPTH) for q in asked] == expected
    assert words.compact() == 1  # nothing left to merge: one step, which finds so


def test_writes_after_compacting_are_searched_and_counted(tmp_path, sample_words):
    conn = sqlite_index(tmp_path / "w.sqlite", sample_words, per_transaction=500)
    words = word_index.WordIndex(conn, threading.RLock())
    words.compact()
    conn.execute("INSERT INTO lexical (rowid, terms) VALUES (?, ?)", (10_000, "كاراباخيه ناجورنويه"))
    conn.execute("INSERT INTO lexical (rowid, terms) VALUES (?, ?)", (10_001, "كاراباخيه"))
    conn.execute("DELETE FROM lexical WHERE rowid = 1")
    frequencies = words.frequencies()
    assert frequencies.docs["كاراباخيه"] == 2 and frequencies.total == len(sample_words) + 1
    asked = lexical.lexical_query(["كاراباخيه", "ناجورنويه"], frequencies)
    assert [key for key, _ in words.search(asked, DEPTH)] == [10_000, 10_001]
    assert words.words([10_001, 1]) == {10_001: frozenset({"كاراباخيه"})}


def test_the_postgresql_search_answers_as_the_plain_computation(database_url, sample_words, sample_sets):
    from index.store.pg_store import PostgresStore

    store = PostgresStore(database_url, pool_size=2)
    try:
        with store._pool.connection() as conn:  # the word index alone, as the store writes it
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO lexical (key, terms) VALUES (%s, %s)",
                                [(k, sorted(set(w))) for k, w in sample_words.items()])
        asked = queries(sample_words, store.words.frequencies())
        assert [store.words.search(q, DEPTH) for q in asked] == [reference(sample_sets, q, DEPTH) for q in asked]
        store.words.compact()
        assert store.words.search(asked[0], DEPTH) == reference(sample_sets, asked[0], DEPTH)
    finally:
        store.close()


def test_weights_are_summed_in_the_lists_order_and_ties_go_to_the_smaller_key():
    lists = [np.array([5, 3, 9], dtype=np.int64), np.array([3, 7], dtype=np.int64), np.array([], dtype=np.int64),
             np.array([9, 1], dtype=np.int64)]
    weights = [0.1, 0.2, 5.0, 0.1]
    top = word_index.top_weighted(lists, weights, 10)
    assert top == [(3, 0.1 + 0.2), (7, 0.2), (9, 0.1 + 0.1), (1, 0.1), (5, 0.1)]  # 0.1 + 0.1 is 0.2: a tie
    assert top[0][1] == 0.30000000000000004  # 0.1 then 0.2, as a statement adding them in turn
    assert word_index.top_weighted(lists, weights, 2) == top[:2]
    assert word_index.top_weighted([np.array([], dtype=np.int64)], [1.0], 5) == []

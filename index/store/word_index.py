"""The store's word index over SQLite's FTS5 (see `lexical` for what is indexed and asked): written
with the articles, searched a word at a time, compacted by the rebuild."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

import numpy as np

from ..sqlite import MARKS, rows_in, transaction
from ..text.lexical import Frequencies, LexicalQuery, words_of

MERGE_PAGES = 1000  # pages of the word index merged a transaction when it is compacted (about 4 MB, tens of ms)

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE IF NOT EXISTS lexical_vocab USING fts5vocab(lexical, 'row');
"""



class WordIndex:
    """The store's word index, read on the store's connection (its writes go with the article's)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn, self._lock = conn, lock

    def search(self, query: LexicalQuery, depth: int) -> list[tuple[int, float]]:
        """(key, weight) of the `depth` articles best matching the query's words (see `search`)."""
        with self._lock:
            return search(self._conn, query, depth)

    def words(self, keys: Sequence[int]) -> dict[int, frozenset[str]]:
        """The indexed words of these articles."""
        with self._lock:
            return words_by_key(self._conn, list(keys))

    def frequencies(self) -> Frequencies:
        """How many articles hold each indexed word now."""
        with self._lock:
            return document_frequencies(self._conn)

    def compact(self) -> int:
        """Merge the word index into one segment (see `compact`); returns the transactions taken."""
        return compact(self._conn, self._lock)


def search(conn: sqlite3.Connection, query: LexicalQuery, depth: int) -> list[tuple[int, float]]:
    """(key, weight) of the `depth` articles holding most of the query's searched words, each word
    weighing its idf, best first (ties: the older key). The weights are the version's, so whether an
    article is among them depends on its own words only: what the answer cache's rule needs.

    Each word's list is read alone (rare words: short lists) and the weights are summed here, in the
    words' order, as exactly as adding the idf of each match in turn would. One statement that also
    summed and sorted them cost 1.4x as much (`python -m bench.word_index`, 100k articles, 0.34 against
    0.25 ms), 2x on the archive bench's 100k (more matches a word)."""
    words = query.searched
    if not words:
        return []
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples
    lists = []
    begun = not conn.in_transaction
    if begun:  # one snapshot for all the words, as one statement had: no write counted for half of them
        cursor.execute("BEGIN DEFERRED")
    try:
        for word in words:
            (held,) = cursor.execute(_WORD_SQL, (f'"{word}"',)).fetchone()
            lists.append(np.array(held.split(","), dtype=np.int64) if held else np.empty(0, dtype=np.int64))
    finally:
        if begun:
            cursor.execute("COMMIT")
    return top_weighted(lists, [query.idf[word] for word in words], depth)


# The keys of one word's articles as one string: a row a key costs twice as much to read.
_WORD_SQL = "SELECT group_concat(rowid) FROM lexical WHERE lexical MATCH ?"


def top_weighted(lists: Sequence[np.ndarray], weights: Sequence[float], depth: int) -> list[tuple[int, float]]:
    """(key, weight) of the `depth` keys with the largest sums of the weights of the lists holding
    them (ties: the smaller key); each key's sum is added in the lists' order."""
    keys = np.concatenate(lists) if lists else np.empty(0, dtype=np.int64)
    if not len(keys):
        return []
    values = np.repeat(np.asarray(weights, dtype=np.float64), [len(held) for held in lists])
    found, owner = np.unique(keys, return_inverse=True)
    sums = np.zeros(len(found))
    np.add.at(sums, owner, values)  # in order: one key's weights are added word after word
    best = np.lexsort((found, -sums))[:depth]
    return list(zip(found[best].tolist(), sums[best].tolist()))


def compact(conn: sqlite3.Connection, lock: threading.RLock, pages: int = MERGE_PAGES) -> int:
    """Merge FTS5's segments of the word index into one, `pages` at a time, each step a short write
    transaction (writers go on in between); returns how many were taken.

    FTS5 adds a segment each write transaction and merges them four of a level at a time, so a
    growing index holds a dozen or more (16 at a million articles), and every word searched is
    looked up in each: merged into one, a word's lookup is several times faster (see
    bench/word_index.py). Every merge rewrites the whole index (8.7 s at a million articles): a
    rebuild's work, not a write's."""
    with lock:
        limit = 10 + 2 * conn.execute("SELECT count(*) FROM lexical_data").fetchone()[0] // pages
    for step in range(1, limit + 1):
        with transaction(conn, lock) as tx:
            before = tx.total_changes
            tx.execute("INSERT INTO lexical (lexical, rank) VALUES ('merge', ?)", (-pages,))
            if tx.total_changes - before < 2:  # nothing left to merge (FTS5's documented test)
                return step
    return limit


def document_frequencies(conn: sqlite3.Connection) -> Frequencies:
    """How many articles hold each word now."""
    docs = dict(conn.execute("SELECT term, doc FROM lexical_vocab WHERE doc >= 2"))  # a missing word counts as 1
    return Frequencies(docs, conn.execute("SELECT count(*) FROM lexical").fetchone()[0])


def words_by_key(conn: sqlite3.Connection, keys: list[int]) -> dict[int, frozenset[str]]:
    """The indexed words of stored articles."""
    rows = rows_in(conn, f"SELECT rowid, terms FROM lexical WHERE rowid IN ({MARKS})", keys)
    return {row[0]: frozenset(row[1].split()) for row in rows}


def put(conn: sqlite3.Connection, key: int, terms: str) -> None:
    """Index an article's words (`words_of`, space-separated) under its key, replacing what the key held."""
    conn.execute("DELETE FROM lexical WHERE rowid = ?", (key,))
    conn.execute("INSERT INTO lexical (rowid, terms) VALUES (?, ?)", (key, terms))


MISSING = "SELECT key, headline, body FROM articles WHERE key NOT IN (SELECT rowid FROM lexical) LIMIT ?"


def any_missing(conn: sqlite3.Connection) -> bool:
    """Whether a stored article is not in the word index (a data folder made before it)."""
    return bool(conn.execute(MISSING, (1,)).fetchall())


def index_missing(conn: sqlite3.Connection, batch: int) -> int:
    """Index the words of up to `batch` stored articles the word index lacks (a data folder made
    before it); returns how many."""
    rows = conn.execute(MISSING, (batch,)).fetchall()
    for row in rows:
        put(conn, row[0], " ".join(words_of(row[1], row[2])))
    return len(rows)


def remove(conn: sqlite3.Connection, key: int) -> None:
    conn.execute("DELETE FROM lexical WHERE rowid = ?", (key,))

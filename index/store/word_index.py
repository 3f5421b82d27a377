"""The store's word index over SQLite's FTS5 (see `lexical` for what is indexed and asked): written
with the articles, searched with one statement a query, compacted by the rebuild."""
from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Sequence

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

    One statement: each word's matches carry its bit, an article's bits are summed into the mask of
    the words it holds, and its weight is summed from the mask in the words' order, as exactly as
    adding the idf of each match in turn would (x + 0.0 is x)."""
    words = query.searched
    if not words:
        return []
    values: list[object] = [f'"{word}"' for word in words]
    values += [query.idf[word] for word in words]
    return [(key, weight) for key, weight in conn.execute(_search_sql(len(words)), [*values, depth])]


@functools.cache
def _search_sql(count: int) -> str:
    matches = " UNION ALL ".join(f"SELECT rowid AS key, {1 << i} AS bit FROM lexical WHERE lexical MATCH ?{i + 1}"
                                 for i in range(count))
    weight = " + ".join(f"((mask >> {i}) & 1) * ?{count + i + 1}" for i in range(count))
    return (f"SELECT key, {weight} AS weight FROM (SELECT key, sum(bit) AS mask FROM ({matches}) GROUP BY key) "
            f"ORDER BY weight DESC, key LIMIT ?{2 * count + 1}")


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

"""Lexical neighbours: the stored articles that share an article's rarest words.

What Elasticsearch's more_like_this does, over SQLite's FTS5 in the store: each article's words
(normalised, without Arabic proclitics and function words) are indexed; a query takes its own words
with the highest tf-idf, the corpus's document frequencies deciding, and asks for the articles
holding the most of them (each weighing its idf). Two stories phrased differently but naming the
same people and places meet here even when their embeddings are far apart.
"""
from __future__ import annotations

import functools
import hashlib
import heapq
import json
import math
import sqlite3
import threading
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from .normalize import normalize
from .sqlite import MARKS, rows_in, transaction
from .terms import _TOKEN, STOP_WORDS, match_key
from .text import lead

LEXICAL_WORDS = 250  # words of the body indexed after the headline
QUERY_TERMS = 25  # a query's words weighed (the evidence of every candidate)
SEARCH_TERMS = 10  # the first of them searched for (rare words have short lists: the search stays fast)
MAX_SEARCHED_DOCS = 300  # a word more articles hold is weighed, not searched for
MAX_DOC_SHARE = 0.05  # words in more than this share of the articles are too common to ask for

FREQUENCIES = "frequencies.json.z"  # the file of an index version that holds them
MERGE_PAGES = 1000  # pages of the word index merged a transaction when it is compacted (about 4 MB, tens of ms)

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE IF NOT EXISTS lexical_vocab USING fts5vocab(lexical, 'row');
"""


def words_of(headline: str, body: str) -> list[str]:
    """An article's indexed words, in order: normalised, without proclitics, function words and
    single letters."""
    text = normalize(f"{headline}\n{lead(body, LEXICAL_WORDS)}")
    words = (match_key(w) for w in _TOKEN.findall(text) if w not in STOP_WORDS)
    return [w for w in words if len(w) > 1 and w not in STOP_WORDS]


@dataclass(frozen=True)
class LexicalQuery:
    """The words a query asks for, each with its inverse document frequency."""

    idf: dict[str, float]
    weight: float = 0.0  # the sum of the idf
    searched: tuple[str, ...] = ()  # the words the word index is searched for

    def shared(self, words: frozenset[str] | set[str]) -> float:
        """The share of the query's word weight that a candidate's words hold, in [0, 1]."""
        return sum(self.idf[t] for t in sorted(self.idf.keys() & words)) / self.weight if self.weight else 0.0


@dataclass(frozen=True, eq=False)
class Frequencies:
    """How many articles held each word when an index version was built, and how many articles
    there were: fixed for the version, so that every process ranks alike."""

    docs: dict[str, int]
    total: int

    @functools.cached_property
    def digest(self) -> str:
        """A short name of these frequencies: answers ranked with others are not shared."""
        return hashlib.sha256(self.to_blob()).hexdigest()[:12]

    def to_blob(self) -> bytes:
        return zlib.compress(json.dumps({"docs": self.docs, "total": self.total}, ensure_ascii=False).encode())

    @classmethod
    def from_blob(cls, blob: bytes | None) -> "Frequencies | None":
        if not blob:
            return None
        doc = json.loads(zlib.decompress(blob))
        return cls(doc["docs"], doc["total"])


def lexical_query(words: list[str], frequencies: Frequencies) -> LexicalQuery:
    """The query's QUERY_TERMS words with the highest tf-idf among those at most MAX_DOC_SHARE of
    the articles hold (a word no article held when the version was built counts as held by one)."""
    total, counts = max(1, frequencies.total), Counter(words)
    limit = max(2, MAX_DOC_SHARE * total)
    docs = {t: max(1, frequencies.docs.get(t, 0)) for t in counts}
    idf = {t: math.log(1 + (total - d + 0.5) / (d + 0.5)) for t, d in docs.items() if d <= limit}
    best = heapq.nsmallest(QUERY_TERMS, idf, key=lambda t: (-counts[t] * idf[t], t))  # as sorted(...)[:QUERY_TERMS]
    searched = tuple([t for t in best if docs[t] <= MAX_SEARCHED_DOCS][:SEARCH_TERMS])
    return LexicalQuery({t: idf[t] for t in best}, sum(idf[t] for t in best), searched)


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


@functools.lru_cache(maxsize=None)
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

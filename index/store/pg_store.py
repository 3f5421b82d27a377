"""The article store on PostgreSQL: `sql_store.SqlStore` over a connection pool, shared by every
machine that names the same `DATABASE_URL` (see `postgres` for the commit-ordered log), the word
index in GIN-indexed arrays (`PostgresWords`)."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from ..text.lexical import Frequencies, LexicalQuery
from .changes import ChangeBatch
from .pg_answers import PostgresAnswers
from .pg_buckets import PostgresBuckets
from .pg_embeddings import PostgresEmbeddingCache
from .pg_versions import SharedVersions
from .postgres import WRITERS_LOCK, advisory_lock, connect_pool, create_schema, transaction, write_transaction
from .sql_store import SqlStore

__all__ = ["ChangeBatch", "PgConn", "Postgres", "PostgresStore", "PostgresWords", "words_by_key"]

T = TypeVar("T")
LOCK_HOLDERS = 64  # writers at work at once, each holding the writers' lock on a connection
# Each searched word looked up in the GIN index on its own (one array overlap for all of them reads
# every row holding any, ten times slower), each match weighing the word's idf. A nested loop takes
# the words in their order for every article, so its weight is added up in the order `word_index.search`
# adds it: the two stores weigh and rank alike, to the last bit (tests/test_word_index_scale.py).
SEARCH = """
SELECT l.key, sum(q.idf) AS weight FROM unnest(%(words)s::text[], %(idf)s::float8[]) AS q(word, idf)
JOIN lexical l ON l.terms @> ARRAY[q.word] GROUP BY l.key ORDER BY weight DESC, l.key LIMIT %(depth)s
"""


class PostgresWords:
    """The word index (see `lexical`): each article's distinct words in an array, GIN-indexed."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def search(self, query: LexicalQuery, depth: int) -> list[tuple[int, float]]:
        if not query.searched:
            return []
        with self._pool.connection() as conn:
            rows = conn.execute(SEARCH, {"words": list(query.searched), "depth": depth,
                                         "idf": [query.idf[w] for w in query.searched]})
            return [(r["key"], float(r["weight"])) for r in rows]

    def words(self, keys: Sequence[int]) -> dict[int, frozenset[str]]:
        with self._pool.connection() as conn:
            return words_by_key(conn, keys)

    def frequencies(self) -> Frequencies:
        with transaction(self._pool, consistent_read=True) as conn:
            docs = {r["word"]: r["docs"] for r in conn.execute(
                "SELECT word, count(*) AS docs FROM lexical, unnest(terms) AS word GROUP BY word HAVING count(*) >= 2")}
            return Frequencies(docs, conn.execute("SELECT count(*) AS n FROM lexical").fetchone()["n"])

    def compact(self) -> int:
        """Move the GIN index's pending entries (words written since the last vacuum, which every
        search reads through) into the index proper; returns 1 (one step)."""
        with self._pool.connection() as conn:
            conn.execute("SELECT gin_clean_pending_list('lexical_terms'::regclass)")
        return 1


def words_by_key(conn: Any, keys: Sequence[int]) -> dict[int, frozenset[str]]:
    """The indexed words of stored articles (`conn`: a psycopg connection)."""
    rows = conn.execute("SELECT key, terms FROM lexical WHERE key = ANY(%s)", ([int(k) for k in keys],))
    return {r["key"]: frozenset(r["terms"]) for r in rows}


@functools.lru_cache(maxsize=256)
def _psycopg(sql: str) -> str:
    """A statement with `?` placeholders in psycopg's style (`%s`, and `%%` for a literal `%`)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConn:
    """A psycopg connection (rows as dicts) taking the store's statements: `?` placeholders and `executemany`."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(_psycopg(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(_psycopg(sql), rows)


class Postgres:
    """The store's dialect on PostgreSQL (see `dialect.Dialect`): connections from a pool."""

    collate = ' COLLATE "C"'  # SQLite's order (by bytes), whatever the database's collation
    like = "headline ILIKE ?"  # SQLite's LIKE ignores the case of ASCII letters (ILIKE: of every letter)
    for_update = " FOR UPDATE"
    # Numbers are taken from change_head in commit order (see `postgres`), so this one has committed.
    last_seq = "SELECT seq FROM change_head"
    bulk_insert = False  # writers run together: a row found missing may be stored meanwhile

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @contextmanager
    def read(self, consistent: bool = False) -> Iterator[PgConn]:
        if consistent:
            with transaction(self.pool, consistent_read=True) as conn:
                yield PgConn(conn)
        else:
            with self.pool.connection() as conn:
                yield PgConn(conn)

    def write(self, work: Callable[[PgConn], T]) -> T:
        """`work` in a write transaction, again from the start when the server chose it as a deadlock's
        victim (see `postgres.write_transaction`)."""
        return write_transaction(self.pool, lambda conn: work(PgConn(conn)))

    def rows_in(self, conn: PgConn, sql: str, values: Sequence[Any]) -> list[Any]:
        values = list(values)
        if not values:
            return []
        cursor = conn.execute(sql.replace("IN ({marks})", "= ANY(?)"), [values] * sql.count("{marks}"))
        return cursor.fetchall() if cursor.description else []

    def words_by_key(self, conn: PgConn, keys: Sequence[int]) -> dict[int, frozenset[str]]:
        return words_by_key(conn.raw, keys)

    def put_words(self, conn: PgConn, rows: Sequence[tuple[int, str]], new: bool = False) -> None:
        for key, words in rows:
            conn.execute("INSERT INTO lexical (key, terms) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET terms = excluded.terms", (key, sorted(set(words.split()))))

    def remove_words(self, conn: PgConn, key: int) -> None:
        conn.execute("DELETE FROM lexical WHERE key = ?", (key,))

    def append_changes(self, conn: PgConn, rows: Sequence[tuple]) -> None:
        """Number the rows from change_head, whose row lock then orders this transaction's commit."""
        last = conn.execute("UPDATE change_head SET seq = seq + ? RETURNING seq", (len(rows),)).fetchone()["seq"]
        first = last - len(rows) + 1
        conn.executemany("INSERT INTO changes (seq, key, vector, embed_key, words) VALUES (?, ?, ?, ?, ?)",
                         [(first + i, *row) for i, row in enumerate(rows)])

    def lock_pins(self, conn: PgConn, article_id: str, pinned_ids: Sequence[str]) -> None:
        """One editor's save at a time for an article; the pinned articles' rows held, so that a
        change of one of them, in flight, is logged before (and then logs this article) or after."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", ("pins:" + article_id,))
        conn.execute("SELECT key FROM articles WHERE id = ANY(?) ORDER BY id FOR SHARE", (sorted(pinned_ids),))


class PostgresStore(SqlStore):
    """The store in PostgreSQL: `SqlStore`, and what else machines share there (embeddings, answers,
    rate limits, index versions)."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        self._pool = connect_pool(url, pool_size)
        self._locks = connect_pool(url, LOCK_HOLDERS)  # connections holding advisory locks (see `advisory_lock`)
        create_schema(self._pool)
        super().__init__(Postgres(self._pool), PostgresWords(self._pool))
        self.versions = SharedVersions(self._pool, self._locks)

    def embedding_cache(self) -> PostgresEmbeddingCache:
        """The embedding cache in this database, shared by every machine using it."""
        return PostgresEmbeddingCache(self._pool)

    def answer_table(self) -> PostgresAnswers:
        """The answers every machine using this database shares."""
        return PostgresAnswers(self._pool)

    def bucket_table(self) -> PostgresBuckets:
        """The rate limit's buckets every machine using this database shares."""
        return PostgresBuckets(self._pool)

    def close(self) -> None:
        self._pool.close()
        self._locks.close()

    def lost(self) -> str | None:
        """Never: a database is not a file that can be removed under the process (see `ArticleStore.lost`)."""
        return None

    def writing(self, exclusive: bool = False) -> AbstractContextManager[bool]:
        """The writers' lock (see `base.Store.writing`), shared by every machine on this database."""
        return advisory_lock(self._locks, WRITERS_LOCK, exclusive)

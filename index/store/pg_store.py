"""The article store on PostgreSQL: the same interface as the SQLite store (`base.Store`), shared
by every machine that names the same `DATABASE_URL` (see `postgres` for the commit-ordered log)."""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Iterator, Sequence

from ..text import lexical
from . import changes as store_changes, schema as store_schema
from ..records.article import Article
from ..text.lexical import Frequencies, LexicalQuery
from .pg_shared import PostgresAnswers, PostgresBuckets, PostgresEmbeddingCache, SharedVersions
from .postgres import SET_META, WRITERS_LOCK, advisory_lock, connect_pool, create_schema, transaction, write_transaction
from ..text.overlap import Fingerprint
from .changes import Changes
from .schema import COLUMNS, to_stored
from ..records.stored import StoredArticle

LOCK_HOLDERS = 64  # writers at work at once, each holding the writers' lock on a connection
UPSERT = store_schema.UPSERT.replace("?", "%s")
# The articles that pin the article with this key: a change of it is a display change of theirs.
PINNERS = ("SELECT a.key FROM articles pinned JOIN pins p ON p.pinned_id = pinned.id "
           "JOIN articles a ON a.id = p.article_id WHERE pinned.key = %s")
# Each searched word looked up in the GIN index on its own (one array overlap for all of them reads
# every row holding any, ten times slower), each match weighing the word's idf. A nested loop takes
# the words in their order for every article, so its weight is added up in the order `lexical.search`
# adds it: the two stores weigh and rank alike, to the last bit (tests/test_word_index_scale.py).
SEARCH = """
SELECT l.key, sum(q.idf) AS weight FROM unnest(%(words)s::text[], %(idf)s::float8[]) AS q(word, idf)
JOIN lexical l ON l.terms @> ARRAY[q.word] GROUP BY l.key ORDER BY weight DESC, l.key LIMIT %(depth)s
"""


class ChangeBatch:
    """The change-log rows of one write transaction, numbered and written at its end (`write`), so
    the lock on `change_head` that orders commits is held as briefly as possible."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.rows = conn, []

    def vector(self, key: int, embed_key: str | None, words: frozenset[str]) -> None:
        self.rows.append((key, 1, embed_key, " ".join(sorted(words))))
        self.display(self._pinners(key), pinners=False)

    def display(self, keys: Sequence[int], pinners: bool = True) -> None:
        for key in keys:
            self.rows.append((key, 0, None, None))
            if pinners:
                self.display(self._pinners(key), pinners=False)

    def _pinners(self, key: int) -> list[int]:
        return [r["key"] for r in self.conn.execute(PINNERS, (key,))]

    def write(self) -> None:
        if not self.rows:
            return
        last = self.conn.execute("UPDATE change_head SET seq = seq + %s RETURNING seq", (len(self.rows),)).fetchone()
        first = last["seq"] - len(self.rows) + 1
        with self.conn.cursor() as cur:
            cur.executemany("INSERT INTO changes (seq, key, vector, embed_key, words) VALUES (%s, %s, %s, %s, %s)",
                            [(first + i, *row) for i, row in enumerate(self.rows)])


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
    rows = conn.execute("SELECT key, terms FROM lexical WHERE key = ANY(%s)", ([int(k) for k in keys],))
    return {r["key"]: frozenset(r["terms"]) for r in rows}


class PostgresStore:
    """Articles, their words, stories, pins, named values and the change log, in PostgreSQL."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        self._pool = connect_pool(url, pool_size)
        self._locks = connect_pool(url, LOCK_HOLDERS)  # connections holding advisory locks (see `advisory_lock`)
        create_schema(self._pool)
        self.words = PostgresWords(self._pool)
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

    def _select(self, sql: str, params: Sequence[Any] | dict = ()) -> list[StoredArticle]:
        with self._pool.connection() as conn:
            return [to_stored(row) for row in conn.execute(sql, params)]

    # Writes

    def upsert(self, articles: Sequence[Article], embed_keys: Sequence[str], fingerprints: Sequence[Fingerprint],
               terms: Sequence[str] | None = None, linked: bool = False) -> None:
        """Insert or replace articles by id in one transaction, logging each change (see `ArticleStore`)."""
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if terms is None:
            terms = [" ".join(lexical.words_of(a.headline, a.body)) for a in articles]
        # By id: writers of the same articles lock their rows in one order.
        rows = sorted(zip(articles, embed_keys, fingerprints, terms, strict=True), key=lambda row: row[0].id)

        def work(conn: Any) -> None:
            log = ChangeBatch(conn)
            for article, embed_key, fp, words in rows:
                values = store_schema.upsert_values(article, embed_key, fp, now, linked)
                key = conn.execute(UPSERT, values).fetchone()["key"]
                before = words_by_key(conn, [key]).get(key, frozenset())
                after = frozenset(words.split())
                conn.execute("INSERT INTO lexical (key, terms) VALUES (%s, %s) "
                             "ON CONFLICT (key) DO UPDATE SET terms = excluded.terms", (key, sorted(after)))
                log.vector(key, embed_key, before | after)  # its row is locked: no pin on it is in flight
            log.write()

        write_transaction(self._pool, work)

    def delete(self, article_id: str) -> bool:
        return write_transaction(self._pool, lambda conn: self._delete(conn, article_id))

    def _delete(self, conn: Any, article_id: str) -> bool:
        row = conn.execute("SELECT key FROM articles WHERE id = %s FOR UPDATE", (article_id,)).fetchone()
        if row is None:
            return False
        log = ChangeBatch(conn)
        log.vector(row["key"], None, words_by_key(conn, [row["key"]]).get(row["key"], frozenset()))
        conn.execute("DELETE FROM articles WHERE key = %s", (row["key"],))
        conn.execute("DELETE FROM lexical WHERE key = %s", (row["key"],))
        conn.execute("DELETE FROM pins WHERE article_id = %s OR pinned_id = %s", (article_id, article_id))
        log.write()
        return True

    def mark_linked(self, article_ids: Sequence[str]) -> None:
        ids = sorted(article_ids)
        write_transaction(self._pool, lambda conn: conn.execute("UPDATE articles SET linked = 1 WHERE id = ANY(%s)",
                                                                (ids,)))

    def unlinked_ids(self) -> list[str]:
        with self._pool.connection() as conn:
            return [r["id"] for r in conn.execute("SELECT id FROM articles WHERE linked = 0 ORDER BY key")]

    def set_embed_keys(self, pairs: Sequence[tuple[int, str]]) -> None:
        self._update("UPDATE articles SET embed_key = %s WHERE key = %s", [(k, key) for key, k in pairs])

    def set_fingerprints(self, pairs: Sequence[tuple[int, Fingerprint]]) -> None:
        self._update("UPDATE articles SET headline_hash = %s, body_hash = %s, body_shingles = %s, "
                     "headline_shingles = %s WHERE key = %s",
                     [(*store_schema.fingerprint_values(fp), key) for key, fp in pairs])

    def _update(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            ordered = sorted(rows, key=lambda row: row[-1])  # by key (see `upsert`)
            write_transaction(self._pool, lambda conn: conn.cursor().executemany(sql, ordered))

    # Reads

    def get(self, article_id: str) -> StoredArticle | None:
        found = self._select(f"SELECT {COLUMNS} FROM articles WHERE id = %s", (article_id,))
        return found[0] if found else None

    def get_many(self, article_ids: Sequence[str]) -> dict[str, StoredArticle]:
        return {s.article.id: s for s in self._select(f"SELECT {COLUMNS} FROM articles WHERE id = ANY(%s)",
                                                      (list(article_ids),))}

    def get_by_keys(self, keys: Sequence[int], body_chars: int | None = None) -> dict[int, StoredArticle]:
        columns = store_schema.columns(body_chars=body_chars)
        return {s.key: s for s in self._select(f"SELECT {columns} FROM articles WHERE key = ANY(%s)",
                                               ([int(k) for k in keys],))}

    def all_ids(self) -> list[str]:
        with self._pool.connection() as conn:
            return [r["id"] for r in conn.execute("SELECT id FROM articles")]

    def newest_ids(self, limit: int) -> list[str]:
        with self._pool.connection() as conn:
            return [r["id"] for r in conn.execute(
                "SELECT id FROM articles ORDER BY published_at IS NULL, published_at COLLATE \"C\" DESC, key DESC LIMIT %s", (limit,))]

    def newest(self, section: str | None, before: str | None, limit: int,
               body_chars: int | None = None) -> list[StoredArticle]:
        sql = (f"SELECT {store_schema.columns(body_chars=body_chars)} FROM articles"
               " WHERE (%(section)s::text IS NULL OR section = %(section)s)"
               " AND (%(before)s::text IS NULL OR published_at COLLATE \"C\" <= %(before)s)"
               " ORDER BY published_at IS NULL, published_at COLLATE \"C\" DESC, key DESC LIMIT %(limit)s")
        return self._select(sql, {"section": section, "before": before, "limit": int(limit)})

    def count(self) -> int:
        with self._pool.connection() as conn:
            return conn.execute("SELECT count(*) AS n FROM articles").fetchone()["n"]

    def snapshot(self) -> tuple[int, list[StoredArticle]]:
        with transaction(self._pool, consistent_read=True) as conn:
            last = conn.execute("SELECT seq FROM change_head").fetchone()["seq"]
            return last, [to_stored(r) for r in conn.execute(f"SELECT {COLUMNS} FROM articles ORDER BY key")]

    def scan(self, batch: int) -> tuple[int, int, Iterator[list[StoredArticle]]]:
        """`snapshot` in batches (see `ArticleStore.scan`); read at once here."""
        seq, rows = self.snapshot()
        return seq, len(rows), (rows[start : start + batch] for start in range(0, len(rows), batch))

    def search_headlines(self, text: str, limit: int, offset: int) -> tuple[int, list[StoredArticle]]:
        # ILIKE: SQLite's LIKE ignores the case of ASCII letters (ILIKE of every letter that has one).
        pattern = store_schema.like_pattern(text)
        with self._pool.connection() as conn:
            total = conn.execute("SELECT count(*) AS n FROM articles WHERE headline ILIKE %s", (pattern,)).fetchone()["n"]
            rows = conn.execute(f"SELECT {COLUMNS} FROM articles WHERE headline ILIKE %s "
                                'ORDER BY published_at COLLATE "C" DESC NULLS LAST, key DESC LIMIT %s OFFSET %s',
                                (pattern, limit, offset))
            return total, [to_stored(r) for r in rows]

    # The change log (in commit order: see `postgres`)

    def last_change(self) -> int:
        with self._pool.connection() as conn:
            return conn.execute("SELECT seq FROM change_head").fetchone()["seq"]

    def changes_since(self, seq: int) -> Changes:
        with transaction(self._pool, consistent_read=True) as conn:
            last = conn.execute("SELECT seq FROM change_head").fetchone()["seq"]
            rows = [(r["key"], r["vector"], r["embed_key"], r["words"]) for r in conn.execute(
                "SELECT key, vector, embed_key, words FROM changes WHERE seq > %s AND seq <= %s ORDER BY seq",
                (seq, last))]
            vector_keys, display_keys = store_changes.changed_keys(rows)
            now = {r["key"]: r["embed_key"] for r in conn.execute(
                "SELECT key, embed_key FROM articles WHERE key = ANY(%s)", (vector_keys,))}
            terms = {key: " ".join(words) for key, words in words_by_key(conn, display_keys).items()}
            return store_changes.fold(last, rows, now, terms)

    def forget_changes_before(self, seq: int) -> None:
        with transaction(self._pool) as conn:
            conn.execute("DELETE FROM changes WHERE seq <= %s", (seq,))

    # Stories and pins

    def set_stories(self, pairs: Sequence[tuple[int, str]]) -> None:
        if not pairs:
            return
        pairs = sorted(pairs)  # by key: writers of the same articles lock their rows in one order

        def work(conn: Any) -> None:
            conn.cursor().executemany("UPDATE articles SET story_id = %s WHERE key = %s", [(s, k) for k, s in pairs])
            log = ChangeBatch(conn)
            log.display([key for key, _ in pairs])
            log.write()

        write_transaction(self._pool, work)

    def story_members(self, story_ids: Sequence[str]) -> list[StoredArticle]:
        ids = list(dict.fromkeys(story_ids))
        return self._select(f"SELECT {COLUMNS} FROM articles WHERE story_id = ANY(%(ids)s) "
                            "OR (story_id IS NULL AND id = ANY(%(ids)s))", {"ids": ids})

    def pinned(self, article_id: str) -> list[StoredArticle]:
        return self._select(f"SELECT {store_schema.columns('a')} FROM pins p JOIN articles a ON a.id = p.pinned_id "
                            "WHERE p.article_id = %s ORDER BY p.position", (article_id,))

    def set_pins(self, article_id: str, pinned_ids: Sequence[str]) -> None:
        write_transaction(self._pool, lambda conn: self._set_pins(conn, article_id, pinned_ids))

    def _set_pins(self, conn: Any, article_id: str, pinned_ids: Sequence[str]) -> None:
        # One editor's save at a time for an article; the pinned articles' rows held, so that a
        # change of one of them, in flight, is logged before (and then logs this article) or after.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("pins:" + article_id,))
        conn.execute("SELECT key FROM articles WHERE id = ANY(%s) ORDER BY id FOR SHARE", (sorted(pinned_ids),))
        log = ChangeBatch(conn)
        log.display([r["key"] for r in conn.execute("SELECT key FROM articles WHERE id = %s", (article_id,))],
                    pinners=False)
        conn.execute("DELETE FROM pins WHERE article_id = %s", (article_id,))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO pins (article_id, position, pinned_id) VALUES (%s, %s, %s)",
                            [(article_id, i, pinned) for i, pinned in enumerate(pinned_ids)])
        log.write()

    # Named values

    def get_meta(self, name: str) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = %s", (name,)).fetchone()
        return bytes(row["value"]) if row else None

    def set_meta(self, name: str, value: bytes) -> None:
        write_transaction(self._pool, lambda conn: conn.execute(SET_META, (name, value)))

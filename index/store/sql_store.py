"""The article store (`base.Store`) written once in SQL; what differs between SQLite and PostgreSQL
is the store's `dialect.Dialect` (`sqlite_store.SQLite`, `pg_store.Postgres`). Statements take `?`
placeholders and `IN ({marks})` lists (see `Dialect.rows_in`); rows are read by column name. Writes
update rows in the order of their id or key: writers of the same articles on PostgreSQL lock them
in one order.

Every write appends the integer keys of the articles it touches to a change log (`changes`). An
index snapshot records the last change it contains; replaying the log after it brings any process's
index up to date, which is how several server workers (or machines) see each other's writes, and
tells each of them which of its cached answers a write made stale. The tables and how a row maps to
a `StoredArticle` are in `schema`.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from ..records.article import Article
from ..records.stored import StoredArticle
from ..text import lexical
from ..text.overlap import Fingerprint
from . import schema
from .base import Words
from .changes import PINNERS_OF_IDS, ChangeBatch, Changes, changed_keys, fold
from .dialect import Dialect
from .schema import COLUMNS, to_stored

Row = tuple[Article, str, Fingerprint, str]  # an article, its embed_key, fingerprint and indexed words


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SqlStore:
    """Articles keyed by the CMS id, their words, stories and pins, named values and the change log."""

    versions: Any = None  # where index versions are published for replicas (None: the data folder only)

    def __init__(self, dialect: Dialect, words: Words) -> None:
        self.dialect, self.words = dialect, words

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[StoredArticle]:
        with self.dialect.read() as conn:
            return [to_stored(row) for row in conn.execute(sql, params)]

    def _select_in(self, where: str, values: Sequence[Any], columns: str = COLUMNS) -> list[StoredArticle]:
        """Articles matching `where`, whose IN lists hold `values` (see `dialect.Dialect.rows_in`)."""
        with self.dialect.read() as conn:
            rows = self.dialect.rows_in(conn, f"SELECT {columns} FROM articles WHERE {where}", values)
            return [to_stored(row) for row in rows]

    def _column(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The first column of every row of `sql`, named `v`."""
        with self.dialect.read() as conn:
            return [row["v"] for row in conn.execute(sql, params)]

    # Writes

    def upsert(self, articles: Sequence[Article], embed_keys: Sequence[str], fingerprints: Sequence[Fingerprint],
               terms: Sequence[str] | None = None, linked: bool = False) -> None:
        """Insert or replace articles by id, in one transaction, logging each change.

        An updated article starts a story of its own again, marked unlinked until the engine has linked
        it to its matches (`mark_linked`): a crash in between leaves it listed by `unlinked_ids`.

        Args:
            terms: each article's indexed words (`lexical.words_of`, space-separated) when already
                computed; else they are computed here.
            linked: store them as linked, their linking left to the next rebuild (a bulk import).
        """
        now = _now()
        if terms is None:
            terms = [" ".join(lexical.words_of(a.headline, a.body)) for a in articles]
        rows = list(zip(articles, embed_keys, fingerprints, terms, strict=True))
        self.dialect.write(lambda conn: self._upsert(conn, rows, now, linked))

    def _upsert(self, conn: Any, rows: list[Row], now: str, linked: bool) -> None:
        log = ChangeBatch(self.dialect, conn)
        bulk = self._insert_new(conn, log, rows, now, linked) if self.dialect.bulk_insert else []
        inserted = {id(r) for r in bulk}
        # The others one at a time, by id (a repeated id is replaced in its turn: the sort is stable).
        for article, embed_key, fp, words in sorted((r for r in rows if id(r) not in inserted), key=lambda r: r[0].id):
            values = schema.upsert_values(article, embed_key, fp, now, linked)
            key = conn.execute(schema.UPSERT, values).fetchone()["key"]
            before = self.dialect.words_by_key(conn, [key]).get(key, frozenset())
            self.dialect.put_words(conn, [(key, words)])
            log.vector(key, embed_key, " ".join(sorted(before.union(words.split()))))  # its row is locked
        log.write()

    def _insert_new(self, conn: Any, log: ChangeBatch, rows: list[Row], now: str, linked: bool) -> list[Row]:
        """Insert the articles not stored yet in a few statements (nothing to replace); the first of each
        id only, in their order (which their keys follow). Returns the rows inserted."""
        stored = {r["id"] for r in self.dialect.rows_in(conn, "SELECT id FROM articles WHERE id IN ({marks})",
                                                        [r[0].id for r in rows])}
        firsts: dict[str, Row] = {}
        for r in rows:
            if r[0].id not in stored:
                firsts.setdefault(r[0].id, r)
        new = list(firsts.values())
        conn.executemany(schema.INSERT, [schema.upsert_values(a, ek, fp, now, linked) for a, ek, fp, _ in new])
        keys = {r["id"]: r["key"] for r in self.dialect.rows_in(
            conn, "SELECT id, key FROM articles WHERE id IN ({marks})", list(firsts))}
        self.dialect.put_words(conn, [(keys[a.id], words) for a, _, _, words in new], new=True)
        for article, embed_key, _, words in new:
            log.vector(keys[article.id], embed_key, words, pinners=False)
        log.display([r["key"] for r in self.dialect.rows_in(conn, PINNERS_OF_IDS, list(firsts))], pinners=False)
        return new

    def delete(self, article_id: str) -> bool:
        """Remove an article; False when the id is unknown."""
        return self.dialect.write(lambda conn: self._delete(conn, article_id))

    def _delete(self, conn: Any, article_id: str) -> bool:
        row = conn.execute(f"SELECT key FROM articles WHERE id = ?{self.dialect.for_update}", (article_id,)).fetchone()
        if row is None:
            return False
        key, log = row["key"], ChangeBatch(self.dialect, conn)
        log.vector(key, None, " ".join(sorted(self.dialect.words_by_key(conn, [key]).get(key, ()))))
        conn.execute("DELETE FROM articles WHERE key = ?", (key,))
        self.dialect.remove_words(conn, key)
        # Its own pins and its places in other lists go with it: a later article of the same id
        # starts with neither.
        conn.execute("DELETE FROM pins WHERE article_id = ? OR pinned_id = ?", (article_id, article_id))
        log.write()
        return True

    def mark_linked(self, article_ids: Sequence[str]) -> None:
        ids = sorted(article_ids)
        if ids:
            self.dialect.write(lambda conn: self.dialect.rows_in(
                conn, "UPDATE articles SET linked = 1 WHERE id IN ({marks})", ids))

    def unlinked_ids(self) -> list[str]:
        """Articles stored but not yet linked to their duplicates (a writer died in between)."""
        return self._column("SELECT id AS v FROM articles WHERE linked = 0 ORDER BY key")

    def set_embed_keys(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Record new embedding keys (after a change of model or lead length) without logging changes:
        the index version being built already holds the new vectors."""
        self._update("UPDATE articles SET embed_key = ? WHERE key = ?", [(k, key) for key, k in pairs])

    def set_fingerprints(self, pairs: Sequence[tuple[int, Fingerprint]]) -> None:
        """Fill in fingerprints of rows stored before they existed (no change is logged: vectors are unchanged)."""
        self._update("UPDATE articles SET headline_hash = ?, body_hash = ?, body_shingles = ?, headline_shingles = ? "
                     "WHERE key = ?", [(*schema.fingerprint_values(fp), key) for key, fp in pairs])

    def _update(self, sql: str, rows: list[tuple]) -> None:
        """`sql` for every row, whose last value is a key, in key order."""
        if rows:
            ordered = sorted(rows, key=lambda row: row[-1])
            self.dialect.write(lambda conn: conn.executemany(sql, ordered))

    # Reads

    def get(self, article_id: str) -> StoredArticle | None:
        found = self._select(f"SELECT {COLUMNS} FROM articles WHERE id = ?", (article_id,))
        return found[0] if found else None

    def get_many(self, article_ids: Sequence[str]) -> dict[str, StoredArticle]:
        """The stored articles among `article_ids`, by id."""
        return {s.article.id: s for s in self._select_in("id IN ({marks})", list(article_ids))}

    def get_by_keys(self, keys: Sequence[int], body_chars: int | None = None) -> dict[int, StoredArticle]:
        """The stored articles among `keys` (missing keys are simply absent from the answer).

        Args:
            body_chars: read only the start of each body (enough for a lead), not all of it; 0: none.
        """
        columns = schema.columns(body_chars=body_chars)
        return {s.key: s for s in self._select_in("key IN ({marks})", [int(k) for k in keys], columns)}

    def all_ids(self) -> list[str]:
        return self._column("SELECT id AS v FROM articles")

    def newest_ids(self, limit: int) -> list[str]:
        """The ids of the `limit` most recently published articles (undated ones last)."""
        return self._column("SELECT id AS v FROM articles "
                            f"ORDER BY published_at IS NULL, published_at{self.dialect.collate} DESC, key DESC LIMIT ?",
                            (int(limit),))

    def newest(self, section: str | None, before: str | None, limit: int,
               body_chars: int | None = None) -> list[StoredArticle]:
        """The `limit` most recently published articles (of `section` when given) published at or
        before `before` (any time when None), newest first; undated ones last."""
        collate = self.dialect.collate
        sql = (f"SELECT {schema.columns(body_chars=body_chars)} FROM articles"
               " WHERE (CAST(? AS TEXT) IS NULL OR section = ?)"
               f" AND (CAST(? AS TEXT) IS NULL OR published_at{collate} <= ?)"
               f" ORDER BY published_at IS NULL, published_at{collate} DESC, key DESC LIMIT ?")
        return self._select(sql, (section, section, before, before, int(limit)))

    def count(self) -> int:
        return self._column("SELECT count(*) AS v FROM articles")[0]

    def snapshot(self) -> tuple[int, list[StoredArticle]]:
        """Every article and the change sequence they are consistent with, read in one transaction."""
        with self.dialect.read(consistent=True) as conn:
            last = conn.execute(self.dialect.last_seq).fetchone()["seq"]
            return last, [to_stored(row) for row in conn.execute(f"SELECT {COLUMNS} FROM articles ORDER BY key")]

    def scan(self, batch: int) -> tuple[int, int, Iterator[list[StoredArticle]]]:
        """`snapshot` a batch at a time: the change sequence, how many articles there are, and all of
        them in key order, `batch` at a time (read at once here; see `ArticleStore.scan`)."""
        seq, rows = self.snapshot()
        return seq, len(rows), (rows[start : start + batch] for start in range(0, len(rows), batch))

    def search_headlines(self, text: str, limit: int, offset: int) -> tuple[int, list[StoredArticle]]:
        """Articles whose headline contains `text` (all when empty), newest first, and their total."""
        pattern, like = schema.like_pattern(text), self.dialect.like
        with self.dialect.read() as conn:
            total = conn.execute(f"SELECT count(*) AS n FROM articles WHERE {like}", (pattern,)).fetchone()["n"]
            rows = conn.execute(f"SELECT {COLUMNS} FROM articles WHERE {like} ORDER BY "
                                f"published_at{self.dialect.collate} DESC NULLS LAST, key DESC LIMIT ? OFFSET ?",
                                (pattern, int(limit), int(offset)))
            return total, [to_stored(row) for row in rows]

    # The change log

    def last_change(self) -> int:
        """The sequence number of the newest change (0 for an empty log)."""
        with self.dialect.read() as conn:
            return conn.execute(self.dialect.last_seq).fetchone()["seq"]

    def changes_since(self, seq: int) -> Changes:
        """The changes after `seq` (see `Changes`), read with the articles they name in one transaction."""
        with self.dialect.read(consistent=True) as conn:
            last = conn.execute(self.dialect.last_seq).fetchone()["seq"]
            rows = [(r["key"], r["vector"], r["embed_key"], r["words"]) for r in conn.execute(
                "SELECT key, vector, embed_key, words FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq",
                (seq, last))]
            vector_keys, display_keys = changed_keys(rows)
            now = {r["key"]: r["embed_key"] for r in self.dialect.rows_in(
                conn, "SELECT key, embed_key FROM articles WHERE key IN ({marks})", vector_keys)}
            return fold(last, rows, now, self.dialect.words_by_key(conn, display_keys))

    def forget_changes_before(self, seq: int) -> None:
        """Drop change-log entries that every kept index version already contains (the numbering
        goes on from the newest)."""
        self.dialect.write(lambda conn: conn.execute("DELETE FROM changes WHERE seq <= ?", (seq,)))

    # Stories and pins

    def set_stories(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Record story ids by key, logged as display changes of them and of the articles pinning them."""
        if pairs:
            ordered = sorted(pairs, key=lambda pair: pair[0])  # by key (a repeated key: the last one wins)
            self.dialect.write(lambda conn: self._set_stories(conn, ordered))

    def _set_stories(self, conn: Any, pairs: list[tuple[int, str]]) -> None:
        conn.executemany("UPDATE articles SET story_id = ? WHERE key = ?", [(story, key) for key, story in pairs])
        log = ChangeBatch(self.dialect, conn)
        log.display([key for key, _ in pairs])
        log.write()

    def story_members(self, story_ids: Sequence[str]) -> list[StoredArticle]:
        """Every stored article of the given stories."""
        return self._select_in("story_id IN ({marks}) OR (story_id IS NULL AND id IN ({marks}))",
                               list(dict.fromkeys(story_ids)))

    def pinned(self, article_id: str) -> list[StoredArticle]:
        """The stored articles pinned to an article, in the editor's order (deleted ones drop out)."""
        return self._select(f"SELECT {schema.columns('a')} FROM pins p JOIN articles a ON a.id = p.pinned_id "
                            "WHERE p.article_id = ? ORDER BY p.position", (article_id,))

    def set_pins(self, article_id: str, pinned_ids: Sequence[str]) -> None:
        """Replace an article's pins, logged as a display change of that article."""
        self.dialect.write(lambda conn: self._set_pins(conn, article_id, list(pinned_ids)))

    def _set_pins(self, conn: Any, article_id: str, pinned_ids: list[str]) -> None:
        self.dialect.lock_pins(conn, article_id, pinned_ids)
        log = ChangeBatch(self.dialect, conn)
        log.display([r["key"] for r in conn.execute("SELECT key FROM articles WHERE id = ?", (article_id,))],
                    pinners=False)
        conn.execute("DELETE FROM pins WHERE article_id = ?", (article_id,))
        conn.executemany("INSERT INTO pins (article_id, position, pinned_id) VALUES (?, ?, ?)",
                         [(article_id, i, pinned) for i, pinned in enumerate(pinned_ids)])
        log.write()

    # Named values

    def get_meta(self, name: str) -> bytes | None:
        with self.dialect.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return bytes(row["value"]) if row else None

    def set_meta(self, name: str, value: bytes) -> None:
        self.dialect.write(lambda conn: conn.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value)))

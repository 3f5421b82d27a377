"""The article store: SQLite in WAL mode, the source of truth from which the index is rebuilt.

Every write appends the integer keys of the articles it touches to a change log (`store_changes`).
An index snapshot records the last change it contains; replaying the log after it brings any
process's index up to date, which is how several server workers see each other's writes, and tells
each of them which of its cached answers a write made stale. The tables and how a row maps to a
`StoredArticle` are in `store_schema`.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..text import lexical
from . import changes as store_changes, schema as store_schema, word_index
from ..records.article import Article
from ..errors import StoreUnavailable
from ..text.overlap import Fingerprint
from ..sqlite import connect, file_lock, is_damaged, rows_in, transaction
from .changes import Changes
from .schema import COLUMNS, to_stored
from ..records.stored import StoredArticle

__all__ = ["ArticleStore", "Changes", "StoredArticle"]


def _identity(path: Path) -> tuple[int, int]:
    """(device, inode) of the file at `path`: what tells one file from another put in its place."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


class ArticleStore:
    """Articles keyed by the CMS id, their stories and pins, a metadata table, and the change log."""

    versions = None  # index versions live in the data folder only (see `pg_shared.SharedVersions`)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self._conn = connect(self.path)
            with self._lock:
                store_schema.create(self._conn)
        except sqlite3.DatabaseError as exc:
            if not is_damaged(exc):
                raise
            raise StoreUnavailable(f"the article store {self.path} is damaged ({exc}); restore it from a backup "
                                   "(it is the source of truth: it is never replaced by an empty one)") from None
        self._identity = _identity(self.path)  # which file this process opened (see `lost`)
        while word_index.any_missing(self._conn):  # articles stored before the word index, 500 a transaction
            with self._transaction() as conn:
                word_index.index_missing(conn, 500)
        self.words = word_index.WordIndex(self._conn, self._lock)
        # Pages of the tables and indexes kept in memory: the default 2 MB makes each insert into the
        # indexes of a million articles read from disk (a bulk import); this is at most 64 MB a process.
        self._conn.execute("PRAGMA cache_size = -65536")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def lost(self) -> str | None:
        """Why the file at the store's path is no longer the one this process opened (removed or
        replaced: writes would go to a file nobody will read again), or None. One `stat`."""
        try:
            now = _identity(self.path)
        except OSError as exc:
            return f"the article store {self.path} was removed while in use ({exc.strerror})"
        if now != self._identity:
            return f"the article store {self.path} was replaced by another file while in use"
        return None

    def writing(self, exclusive: bool = False) -> AbstractContextManager[bool]:
        """The writers' lock: shared by writers at work, exclusive (False when not had) for a repair."""
        return file_lock(self.path.parent / ".writers.lock", exclusive)

    def _transaction(self, mode: str = "IMMEDIATE") -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._conn, self._lock, mode)

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[StoredArticle]:
        with self._lock:
            return [to_stored(row) for row in self._conn.execute(sql, params)]

    def _select_in(self, where: str, values: Sequence[Any], columns: str = COLUMNS) -> list[StoredArticle]:
        """Articles matching `where`, an IN condition over `values` (see `rows_in`)."""
        with self._lock:
            rows = rows_in(self._conn, f"SELECT {columns} FROM articles WHERE {where}", values)
            return [to_stored(row) for row in rows]

    # Writes

    def upsert(
        self, articles: Sequence[Article], embed_keys: Sequence[str], fingerprints: Sequence[Fingerprint],
        terms: Sequence[str] | None = None, linked: bool = False,
    ) -> None:
        """Insert or replace articles by id, in one transaction, logging each change.

        An updated article starts a story of its own again, marked unlinked until the engine has linked
        it to its matches (`mark_linked`): a crash in between leaves it listed by `unlinked_ids`.

        Args:
            terms: each article's indexed words (`lexical.words_of`, space-separated) when already
                computed; else they are computed here.
            linked: store them as linked, their linking left to the next rebuild (a bulk import).
        """
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if terms is None:
            terms = [" ".join(lexical.words_of(a.headline, a.body)) for a in articles]
        rows = list(zip(articles, embed_keys, fingerprints, terms, strict=True))
        with self._transaction() as conn:
            stored = {row[0] for row in rows_in(conn, "SELECT id FROM articles WHERE id IN ({marks})",
                                                [a.id for a in articles])}
            # New articles in a few statements (nothing to replace, no pins on them yet); the first of
            # each id only: a repeated one is then replaced in its turn, as are stored ones.
            firsts: dict[str, tuple] = {}
            for r in rows:
                if r[0].id not in stored:
                    firsts.setdefault(r[0].id, r)
            new = list(firsts.values())
            conn.executemany(store_schema.INSERT, [store_schema.upsert_values(a, ek, fp, now, linked)
                                                   for a, ek, fp, _ in new])
            keys = dict(rows_in(conn, "SELECT id, key FROM articles WHERE id IN ({marks})", [r[0].id for r in new]))
            conn.executemany("INSERT INTO lexical (rowid, terms) VALUES (?, ?)",
                             [(keys[a.id], words) for a, _, _, words in new])
            store_changes.log_new_vectors(conn, [(keys[a.id], ek, words) for a, ek, _, words in new])
            first = {id(r) for r in new}
            for article, embed_key, fp, words in (r for r in rows if id(r) not in first):
                values = store_schema.upsert_values(article, embed_key, fp, now, linked)
                key = conn.execute(store_schema.UPSERT, values).fetchone()[0]
                before = word_index.words_by_key(conn, [key]).get(key, frozenset())
                word_index.put(conn, key, words)
                store_changes.log_vector(conn, key, embed_key, " ".join(sorted(before | set(words.split()))))

    def delete(self, article_id: str) -> bool:
        """Remove an article; False when the id is unknown."""
        with self._transaction() as conn:
            row = conn.execute("SELECT key FROM articles WHERE id = ?", (article_id,)).fetchone()
            if row is None:
                return False
            before = word_index.words_by_key(conn, [row["key"]]).get(row["key"], frozenset())
            store_changes.log_vector(conn, row["key"], None, " ".join(sorted(before)))
            conn.execute("DELETE FROM articles WHERE key = ?", (row["key"],))
            word_index.remove(conn, row["key"])
            # Its own pins and its places in other lists go with it: a later article of the same id
            # starts with neither.
            conn.execute("DELETE FROM pins WHERE article_id = ? OR pinned_id = ?", (article_id, article_id))
            return True

    def mark_linked(self, article_ids: Sequence[str]) -> None:
        with self._transaction() as conn:
            conn.executemany("UPDATE articles SET linked = 1 WHERE id = ?", [(i,) for i in article_ids])

    def unlinked_ids(self) -> list[str]:
        """Articles stored but not yet linked to their duplicates (a writer died in between)."""
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT id FROM articles WHERE linked = 0 ORDER BY key")]

    def set_embed_keys(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Record new embedding keys (after a change of model or lead length) without logging changes:
        the index version being built already holds the new vectors."""
        if not pairs:
            return
        with self._transaction() as conn:
            conn.executemany("UPDATE articles SET embed_key = ? WHERE key = ?", [(k, key) for key, k in pairs])

    def set_fingerprints(self, pairs: Sequence[tuple[int, Fingerprint]]) -> None:
        """Fill in fingerprints of rows stored before they existed (no change is logged: vectors are unchanged)."""
        if not pairs:
            return
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE articles SET headline_hash = ?, body_hash = ?, body_shingles = ?, headline_shingles = ? "
                "WHERE key = ?",
                [(*store_schema.fingerprint_values(fp), key) for key, fp in pairs],
            )

    # Reads

    def get(self, article_id: str) -> StoredArticle | None:
        found = self._select(f"SELECT {COLUMNS} FROM articles WHERE id = ?", (article_id,))
        return found[0] if found else None

    def get_many(self, article_ids: Sequence[str]) -> dict[str, StoredArticle]:
        """The stored articles among `article_ids`, by id."""
        return {s.article.id: s for s in self._select_in("id IN ({marks})", article_ids)}

    def get_by_keys(self, keys: Sequence[int], body_chars: int | None = None) -> dict[int, StoredArticle]:
        """The stored articles among `keys` (missing keys are simply absent from the answer).

        Args:
            body_chars: read only the start of each body (enough for a lead), not all of it.
        """
        columns = store_schema.columns(body_chars=body_chars)
        return {s.key: s for s in self._select_in("key IN ({marks})", [int(k) for k in keys], columns)}

    def all_ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT id FROM articles")]

    def newest_ids(self, limit: int) -> list[str]:
        """The ids of the `limit` most recently published articles (undated ones last)."""
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT id FROM articles ORDER BY published_at IS NULL, published_at DESC, key DESC LIMIT ?", (limit,))]

    def newest(self, section: str | None, before: str | None, limit: int,
               body_chars: int | None = None) -> list[StoredArticle]:
        """The `limit` most recently published articles (of `section` when given) published at or
        before `before` (any time when None), newest first; undated ones last."""
        sql = (f"SELECT {store_schema.columns(body_chars=body_chars)} FROM articles"
               " WHERE (?1 IS NULL OR section = ?1) AND (?2 IS NULL OR published_at <= ?2)"
               " ORDER BY published_at IS NULL, published_at DESC, key DESC LIMIT ?3")
        return self._select(sql, (section, before, int(limit)))

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM articles").fetchone()[0]

    def snapshot(self) -> tuple[int, list[StoredArticle]]:
        """Every article and the change sequence they are consistent with, read in one transaction."""
        with self._transaction("DEFERRED") as conn:
            return store_changes.last_seq(conn), self._select(f"SELECT {COLUMNS} FROM articles ORDER BY key")

    def scan(self, batch: int) -> tuple[int, int, Iterator[list[StoredArticle]]]:
        """Like `snapshot`, without holding every article at once: the change sequence, how many
        articles there are, and all of them in key order, `batch` at a time. A read transaction on a
        connection of its own keeps them as of one moment until the last batch is read (or the
        iterator is dropped); writers go on meanwhile."""
        conn = connect(self.path)
        conn.execute("BEGIN DEFERRED")
        try:
            seq = store_changes.last_seq(conn)
            count = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        except BaseException:
            conn.close()
            raise

        def batches() -> Iterator[list[StoredArticle]]:
            try:
                cursor = conn.execute(f"SELECT {COLUMNS} FROM articles ORDER BY key")
                while rows := cursor.fetchmany(batch):
                    yield [to_stored(row) for row in rows]
            finally:
                conn.close()

        return seq, count, batches()

    def search_headlines(self, text: str, limit: int, offset: int) -> tuple[int, list[StoredArticle]]:
        """Articles whose headline contains `text` (all when empty), newest first, and their total."""
        pattern = store_schema.like_pattern(text)
        with self._lock:
            total = self._conn.execute(
                "SELECT count(*) FROM articles WHERE headline LIKE ? ESCAPE '\\'", (pattern,)
            ).fetchone()[0]
            rows = self._select(
                f"SELECT {COLUMNS} FROM articles WHERE headline LIKE ? ESCAPE '\\' "
                "ORDER BY published_at DESC, key DESC LIMIT ? OFFSET ?",
                (pattern, limit, offset),
            )
        return total, rows

    # The change log

    def last_change(self) -> int:
        """The sequence number of the newest change (0 for an empty log)."""
        with self._lock:
            return store_changes.last_seq(self._conn)

    def changes_since(self, seq: int) -> Changes:
        """The changes after `seq` (see `Changes`)."""
        with self._transaction("DEFERRED") as conn:
            return store_changes.read_since(conn, seq)

    def forget_changes_before(self, seq: int) -> None:
        """Drop change-log entries that every kept index version already contains."""
        with self._transaction() as conn:
            store_changes.forget_before(conn, seq)

    # Stories and pins

    def set_stories(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Record story ids by key, logged as display changes of them and of the articles pinning them."""
        if not pairs:
            return
        with self._transaction() as conn:
            conn.executemany("UPDATE articles SET story_id = ? WHERE key = ?", [(story, key) for key, story in pairs])
            store_changes.log_display(conn, [key for key, _ in pairs])

    def story_members(self, story_ids: Sequence[str]) -> list[StoredArticle]:
        """Every stored article of the given stories."""
        return self._select_in(
            "story_id IN ({marks}) OR (story_id IS NULL AND id IN ({marks}))", list(dict.fromkeys(story_ids))
        )

    def pinned(self, article_id: str) -> list[StoredArticle]:
        """The stored articles pinned to an article, in the editor's order (deleted ones drop out)."""
        return self._select(
            f"SELECT {store_schema.columns('a')} FROM pins p JOIN articles a ON a.id = p.pinned_id "
            "WHERE p.article_id = ? ORDER BY p.position",
            (article_id,),
        )

    def set_pins(self, article_id: str, pinned_ids: Sequence[str]) -> None:
        with self._transaction() as conn:
            store_changes.log_pins(conn, article_id)
            conn.execute("DELETE FROM pins WHERE article_id = ?", (article_id,))
            conn.executemany("INSERT INTO pins (article_id, position, pinned_id) VALUES (?, ?, ?)",
                             [(article_id, i, pinned) for i, pinned in enumerate(pinned_ids)])

    # Metadata

    def get_meta(self, name: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, name: str, value: bytes) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT INTO meta (name, value) VALUES (?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))

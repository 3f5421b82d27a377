"""The article store on SQLite in WAL mode (the default), the source of truth from which the index is
rebuilt: `sql_store.SqlStore` over one connection shared by threads under a lock, writers taking
turns (BEGIN IMMEDIATE), the word index in FTS5 (`word_index`)."""
from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreUnavailable
from ..records.stored import StoredArticle
from ..sqlite import connect, file_lock, is_damaged, rows_in, transaction
from . import schema as store_schema
from . import word_index
from .changes import Changes
from .schema import COLUMNS, to_stored
from .sql_store import SqlStore

__all__ = ["ArticleStore", "Changes", "SQLite", "StoredArticle"]

T = TypeVar("T")


def _identity(path: Path) -> tuple[int, int]:
    """(device, inode) of the file at `path`: what tells one file from another put in its place."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


class SQLite:
    """The store's dialect on SQLite (see `dialect.Dialect`): one connection under `lock`."""

    collate = ""  # TEXT compares by bytes already
    like = "headline LIKE ? ESCAPE '\\'"
    for_update = ""  # writers take turns: the row stays as read
    # AUTOINCREMENT keeps the newest number in sqlite_sequence; max(seq) would go back once the log is emptied.
    last_seq = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) AS seq"
    bulk_insert = True

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self.conn, self.lock = conn, lock

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self.conn

    def read(self, consistent: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.conn, self.lock, "DEFERRED") if consistent else self._locked()

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with transaction(self.conn, self.lock) as conn:
            return work(conn)

    def rows_in(self, conn: sqlite3.Connection, sql: str, values: Sequence[Any]) -> list[sqlite3.Row]:
        return list(rows_in(conn, sql, values))

    def words_by_key(self, conn: sqlite3.Connection, keys: Sequence[int]) -> dict[int, frozenset[str]]:
        return word_index.words_by_key(conn, list(keys))

    def put_words(self, conn: sqlite3.Connection, rows: Sequence[tuple[int, str]], new: bool = False) -> None:
        if new:  # no row to replace: many at once
            conn.executemany("INSERT INTO lexical (rowid, terms) VALUES (?, ?)", rows)
            return
        for key, words in rows:
            word_index.put(conn, key, words)

    def remove_words(self, conn: sqlite3.Connection, key: int) -> None:
        word_index.remove(conn, key)

    def append_changes(self, conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
        conn.executemany("INSERT INTO changes (key, vector, embed_key, words) VALUES (?, ?, ?, ?)", rows)

    def lock_pins(self, conn: sqlite3.Connection, article_id: str, pinned_ids: Sequence[str]) -> None:
        """Nothing: writers take turns."""


class ArticleStore(SqlStore):
    """The store in a SQLite file: `SqlStore` and the file's own concerns (damage, replacement, scans)."""

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
            with transaction(self._conn, self._lock) as conn:
                word_index.index_missing(conn, 500)
        super().__init__(SQLite(self._conn, self._lock), word_index.WordIndex(self._conn, self._lock))
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

    def scan(self, batch: int) -> tuple[int, int, Iterator[list[StoredArticle]]]:
        """Like `snapshot`, without holding every article at once: the change sequence, how many
        articles there are, and all of them in key order, `batch` at a time. A read transaction on a
        connection of its own keeps them as of one moment until the last batch is read (or the
        iterator is dropped); writers go on meanwhile."""
        conn = connect(self.path)
        conn.execute("BEGIN DEFERRED")
        try:
            seq = conn.execute(SQLite.last_seq).fetchone()["seq"]
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

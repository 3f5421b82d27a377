"""The article store: SQLite in WAL mode, the source of truth from which the index is rebuilt.

Every write appends the integer keys of the articles it touches to a change log. An index snapshot
records the last change it contains; replaying the log after it brings any process's index up to
date, which is how several server workers see each other's writes, and tells each of them which of
its cached answers a write made stale.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from .article import Article
from .overlap import from_blob, to_blob
from .relations import Fingerprint

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    key          INTEGER PRIMARY KEY AUTOINCREMENT,  -- the id in the FAISS index
    id           TEXT NOT NULL UNIQUE,               -- the CMS's own id
    headline     TEXT NOT NULL,
    body         TEXT NOT NULL,
    url          TEXT,
    source       TEXT,
    published_at TEXT,                               -- ISO 8601, UTC
    language     TEXT,
    section      TEXT,
    tags         TEXT NOT NULL,                      -- JSON list
    embed_key    TEXT NOT NULL,                      -- which cached vector embeds it
    updated_at   TEXT NOT NULL,
    headline_hash TEXT,                              -- of the normalised headline
    body_hash    TEXT,                               -- of the normalised body (NULL without body)
    body_shingles BLOB,                              -- sorted uint64 shingle hashes
    headline_shingles BLOB,
    story_id     TEXT,                               -- shared by duplicates and near-duplicates
    linked       INTEGER NOT NULL DEFAULT 1          -- 0: stored, not yet linked to its duplicates
);

CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value BLOB
);
CREATE TABLE IF NOT EXISTS pins (
    article_id TEXT NOT NULL,                        -- the article whose similar list is edited
    position   INTEGER NOT NULL,
    pinned_id  TEXT NOT NULL,
    PRIMARY KEY (article_id, position)
);
CREATE TABLE IF NOT EXISTS changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    key    INTEGER NOT NULL,
    vector INTEGER NOT NULL DEFAULT 1,               -- 1: stored, replaced or deleted; 0: story or pins only
    embed_key TEXT                                   -- the vector it was stored with (NULL: deleted, or 0 above)
);
"""

# The newest change ever logged: still right once older entries are forgotten (AUTOINCREMENT keeps it).
LAST_SEQ = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)"

_COLUMNS = (
    "key, id, headline, body, url, source, published_at, language, section, tags, embed_key, "
    "headline_hash, body_hash, body_shingles, headline_shingles, story_id"
)
_ADDED_COLUMNS = {  # columns added after the first release, for data folders made before them
    "headline_hash": "TEXT", "body_hash": "TEXT", "body_shingles": "BLOB", "headline_shingles": "BLOB", "story_id": "TEXT",
    "linked": "INTEGER NOT NULL DEFAULT 1",
}
_ADDED_CHANGE_COLUMNS = {"vector": "INTEGER NOT NULL DEFAULT 1", "embed_key": "TEXT"}
# A display change (vector 0) for every article that pins the article with this key: pins show it.
_LOG_PINNERS = (
    "INSERT INTO changes (key, vector) SELECT a.key, 0 FROM articles pinned JOIN pins p ON p.pinned_id = pinned.id "
    "JOIN articles a ON a.id = p.article_id WHERE pinned.key = ?"
)


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored, with its index key and the key of its embedding."""

    key: int
    article: Article
    embed_key: str
    fingerprint: Fingerprint | None  # None only for rows stored before fingerprints existed
    story_id: str


@dataclass(frozen=True)
class Changes:
    """What the change log holds after a position."""

    seq: int  # the newest position read, to resume from
    current: dict[int, str | None]  # keys stored, replaced or deleted: their embed_key now (None: deleted)
    display_only: set[int]  # keys whose story or pins changed, and nothing else
    stored_with: set[tuple[int, str]]  # (key, embed_key) of every store in between, the last one included


def _row_to_stored(row: sqlite3.Row) -> StoredArticle:
    article = Article(
        id=row["id"],
        headline=row["headline"],
        body=row["body"],
        url=row["url"],
        source=row["source"],
        published_at=row["published_at"],
        language=row["language"],
        section=row["section"],
        tags=json.loads(row["tags"]),
    )
    fp = None
    if row["headline_hash"] is not None:
        fp = Fingerprint(
            headline_hash=row["headline_hash"],
            body_hash=row["body_hash"],
            body_shingles=from_blob(row["body_shingles"]),
            headline_shingles=from_blob(row["headline_shingles"]),
        )
    return StoredArticle(
        key=row["key"], article=article, embed_key=row["embed_key"], fingerprint=fp, story_id=row["story_id"] or row["id"]
    )


def connect(path: Path) -> sqlite3.Connection:
    """Open a SQLite database for use from several threads (callers hold a lock) in WAL mode."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class ArticleStore:
    """Articles keyed by the CMS id, plus the change log."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._lock = threading.RLock()
        with self._lock:
            self._conn.executescript(SCHEMA)
            present = {r["name"] for r in self._conn.execute("PRAGMA table_info(articles)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:
                    self._add_column("articles", column, kind)
            self._conn.execute("CREATE INDEX IF NOT EXISTS articles_story ON articles (story_id)")
            self._conn.execute("CREATE INDEX IF NOT EXISTS articles_unlinked ON articles (key) WHERE linked = 0")
            self._conn.execute("CREATE INDEX IF NOT EXISTS pins_pinned ON pins (pinned_id)")
            logged = {r["name"] for r in self._conn.execute("PRAGMA table_info(changes)")}
            for column, kind in _ADDED_CHANGE_COLUMNS.items():
                if column not in logged:
                    self._add_column("changes", column, kind)

    def _add_column(self, table: str, column: str, kind: str) -> None:
        """Add a column to a data folder made before it; another process may be doing the same."""
        try:
            self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """A transaction: IMMEDIATE to write, DEFERRED for a consistent read of several statements."""
        with self._lock:
            self._conn.execute(f"BEGIN {mode}")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @staticmethod
    def _log(conn: sqlite3.Connection, key: int, embed_key: str | None) -> None:
        """Log a change of one article's vector (stored with `embed_key`; None: about to be deleted),
        and a display change of the articles that pin it."""
        conn.execute("INSERT INTO changes (key, vector, embed_key) VALUES (?, 1, ?)", (key, embed_key))
        conn.execute(_LOG_PINNERS, (key,))

    def upsert(self, articles: Sequence[Article], embed_keys: Sequence[str], fingerprints: Sequence[Fingerprint]) -> None:
        """Insert or replace articles by id, in one transaction, logging each change.

        An updated article starts a story of its own again, marked unlinked until the engine has linked
        it to its matches (`mark_linked`): a crash in between leaves it listed by `unlinked_ids`.
        """
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._transaction() as conn:
            for article, embed_key, fp in zip(articles, embed_keys, fingerprints, strict=True):
                row = conn.execute(
                    """
                    INSERT INTO articles (id, headline, body, url, source, published_at, language,
                                          section, tags, embed_key, updated_at, headline_hash, body_hash,
                                          body_shingles, headline_shingles, story_id, linked)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
                    ON CONFLICT(id) DO UPDATE SET
                        headline=excluded.headline, body=excluded.body, url=excluded.url,
                        source=excluded.source, published_at=excluded.published_at,
                        language=excluded.language, section=excluded.section, tags=excluded.tags,
                        embed_key=excluded.embed_key, updated_at=excluded.updated_at,
                        headline_hash=excluded.headline_hash, body_hash=excluded.body_hash,
                        body_shingles=excluded.body_shingles, headline_shingles=excluded.headline_shingles,
                        story_id=excluded.story_id, linked=0
                    RETURNING key
                    """,
                    (
                        article.id, article.headline, article.body, article.url, article.source,
                        article.published_at, article.language, article.section,
                        json.dumps(article.tags, ensure_ascii=False), embed_key, now,
                        fp.headline_hash, fp.body_hash, to_blob(fp.body_shingles), to_blob(fp.headline_shingles),
                        article.id,
                    ),
                ).fetchone()
                self._log(conn, row["key"], embed_key)

    def delete(self, article_id: str) -> bool:
        """Remove an article; False when the id is unknown."""
        with self._transaction() as conn:
            row = conn.execute("SELECT key FROM articles WHERE id = ?", (article_id,)).fetchone()
            if row is None:
                return False
            self._log(conn, row["key"], None)
            conn.execute("DELETE FROM articles WHERE key = ?", (row["key"],))
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

    def get(self, article_id: str) -> StoredArticle | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        return _row_to_stored(row) if row else None

    def get_many(self, article_ids: Sequence[str]) -> dict[str, StoredArticle]:
        """The stored articles among `article_ids`, by id."""
        return {s.article.id: s for s in self._rows_where_in("id", list(article_ids), _COLUMNS)}

    def all_ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute("SELECT id FROM articles")]

    def newest_ids(self, limit: int) -> list[str]:
        """The ids of the `limit` most recently published articles (undated ones last)."""
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT id FROM articles ORDER BY published_at IS NULL, published_at DESC, key DESC LIMIT ?", (limit,))]

    def get_by_keys(self, keys: Sequence[int], body_chars: int | None = None) -> dict[int, StoredArticle]:
        """The stored articles among `keys` (missing keys are simply absent from the answer).

        Args:
            body_chars: read only the start of each body (enough for a lead), not all of it.
        """
        columns = _COLUMNS if body_chars is None else _COLUMNS.replace(" body,", f" substr(body, 1, {int(body_chars)}) AS body,")
        return {s.key: s for s in self._rows_where_in("key", [int(k) for k in keys], columns)}

    def _rows_where_in(self, column: str, values: list[Any], columns: str) -> list[StoredArticle]:
        """Articles whose `column` is one of `values`, read in chunks that SQLite's parameter limit allows."""
        found: list[StoredArticle] = []
        with self._lock:
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(f"SELECT {columns} FROM articles WHERE {column} IN ({marks})", chunk)
                found.extend(_row_to_stored(row) for row in rows)
        return found

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM articles").fetchone()[0]

    def last_change(self) -> int:
        """The sequence number of the newest change (0 for an empty log)."""
        with self._lock:
            return self._conn.execute(LAST_SEQ).fetchone()[0]

    def changes_since(self, seq: int) -> Changes:
        """The changes after `seq` (see `Changes`)."""
        with self._transaction("DEFERRED") as conn:
            last = conn.execute(LAST_SEQ).fetchone()[0]
            rows = conn.execute("SELECT key, vector, embed_key FROM changes WHERE seq > ? AND seq <= ?", (seq, last)).fetchall()
            flags: dict[int, int] = {}
            for key, vector, _ in rows:
                flags[key] = max(flags.get(key, 0), vector)
            keys = [key for key, vector in flags.items() if vector]
            current: dict[int, str | None] = dict.fromkeys(keys)
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(f"SELECT key, embed_key FROM articles WHERE key IN ({marks})", chunk):
                    current[row["key"]] = row["embed_key"]
        return Changes(last, current, {key for key, vector in flags.items() if not vector},
                       {(key, ek) for key, vector, ek in rows if vector and ek is not None})

    def snapshot(self) -> tuple[int, list[StoredArticle]]:
        """Every article and the change sequence they are consistent with, read in one transaction."""
        with self._transaction("DEFERRED") as conn:
            last = conn.execute(LAST_SEQ).fetchone()[0]
            rows = [_row_to_stored(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM articles ORDER BY key")]
        return last, rows

    def forget_changes_before(self, seq: int) -> None:
        """Drop change-log entries that every kept index version already contains."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM changes WHERE seq <= ?", (seq,))

    def search_headlines(self, text: str, limit: int, offset: int) -> tuple[int, list[StoredArticle]]:
        """Articles whose headline contains `text` (all when empty), newest first, and their total."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            total = self._conn.execute(
                "SELECT count(*) FROM articles WHERE headline LIKE ? ESCAPE '\\'", (pattern,)
            ).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM articles WHERE headline LIKE ? ESCAPE '\\' "
                "ORDER BY published_at DESC, key DESC LIMIT ? OFFSET ?",
                (pattern, limit, offset),
            ).fetchall()
        return total, [_row_to_stored(r) for r in rows]

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
                "UPDATE articles SET headline_hash = ?, body_hash = ?, body_shingles = ?, headline_shingles = ? WHERE key = ?",
                [(fp.headline_hash, fp.body_hash, to_blob(fp.body_shingles), to_blob(fp.headline_shingles), key) for key, fp in pairs],
            )

    def set_stories(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Record story ids by key, logged as display changes of them and of the articles pinning them."""
        if not pairs:
            return
        with self._transaction() as conn:
            conn.executemany("UPDATE articles SET story_id = ? WHERE key = ?", [(story, key) for key, story in pairs])
            conn.executemany("INSERT INTO changes (key, vector) VALUES (?, 0)", [(key,) for key, _ in pairs])
            conn.executemany(_LOG_PINNERS, [(key,) for key, _ in pairs])

    def story_members(self, story_ids: Sequence[str]) -> list[StoredArticle]:
        """Every stored article of the given stories."""
        found: list[StoredArticle] = []
        ids = list(dict.fromkeys(story_ids))
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT {_COLUMNS} FROM articles WHERE story_id IN ({marks}) OR (story_id IS NULL AND id IN ({marks}))",
                    chunk + chunk,
                )
                found.extend(_row_to_stored(r) for r in rows)
        return found

    def get_meta(self, name: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, name: str, value: bytes) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def pinned(self, article_id: str) -> list[StoredArticle]:
        """The stored articles pinned to an article, in the editor's order (deleted ones drop out)."""
        columns = ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(","))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {columns} FROM pins p JOIN articles a ON a.id = p.pinned_id "
                "WHERE p.article_id = ? ORDER BY p.position",
                (article_id,),
            ).fetchall()
        return [_row_to_stored(r) for r in rows]

    def set_pins(self, article_id: str, pinned_ids: Sequence[str]) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT INTO changes (key, vector) SELECT key, 0 FROM articles WHERE id = ?", (article_id,))
            conn.execute("DELETE FROM pins WHERE article_id = ?", (article_id,))
            conn.executemany("INSERT INTO pins (article_id, position, pinned_id) VALUES (?, ?, ?)",
                             [(article_id, i, pinned) for i, pinned in enumerate(pinned_ids)])

"""The article store: SQLite in WAL mode, the source of truth from which the index is rebuilt.

Every write appends the article's integer key to a change log. An index snapshot records the last
change it contains; replaying the log after it brings any process's index up to date, which is how
several server workers see each other's writes.
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
    story_id     TEXT                                -- shared by duplicates and near-duplicates
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
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key INTEGER NOT NULL
);
"""

_COLUMNS = (
    "key, id, headline, body, url, source, published_at, language, section, tags, embed_key, "
    "headline_hash, body_hash, body_shingles, headline_shingles, story_id"
)
_ADDED_COLUMNS = {  # columns added after the first release, for data folders made before them
    "headline_hash": "TEXT", "body_hash": "TEXT", "body_shingles": "BLOB", "headline_shingles": "BLOB", "story_id": "TEXT",
}


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored, with its index key and the key of its embedding."""

    key: int
    article: Article
    embed_key: str
    fingerprint: Fingerprint | None  # None only for rows stored before fingerprints existed
    story_id: str


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
                    self._conn.execute(f"ALTER TABLE articles ADD COLUMN {column} {kind}")
            self._conn.execute("CREATE INDEX IF NOT EXISTS articles_story ON articles (story_id)")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """A transaction; every write one (IMMEDIATE) also bumps the store's generation."""
        with self._lock:
            self._conn.execute(f"BEGIN {mode}")
            try:
                yield self._conn
                if mode == "IMMEDIATE":
                    self._conn.execute(
                        "INSERT INTO meta (name, value) VALUES ('generation', 1) "
                        "ON CONFLICT(name) DO UPDATE SET value = value + 1"
                    )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def generation(self) -> int:
        """A number that changes with every write by any process (answers cached before are stale)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE name = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def upsert(self, articles: Sequence[Article], embed_keys: Sequence[str], fingerprints: Sequence[Fingerprint]) -> None:
        """Insert or replace articles by id, in one transaction, logging each change.

        An updated article starts a story of its own again; the engine then links it to its matches.
        """
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._transaction() as conn:
            for article, embed_key, fp in zip(articles, embed_keys, fingerprints, strict=True):
                row = conn.execute(
                    """
                    INSERT INTO articles (id, headline, body, url, source, published_at, language,
                                          section, tags, embed_key, updated_at, headline_hash, body_hash,
                                          body_shingles, headline_shingles, story_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET
                        headline=excluded.headline, body=excluded.body, url=excluded.url,
                        source=excluded.source, published_at=excluded.published_at,
                        language=excluded.language, section=excluded.section, tags=excluded.tags,
                        embed_key=excluded.embed_key, updated_at=excluded.updated_at,
                        headline_hash=excluded.headline_hash, body_hash=excluded.body_hash,
                        body_shingles=excluded.body_shingles, headline_shingles=excluded.headline_shingles,
                        story_id=excluded.story_id
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
                conn.execute("INSERT INTO changes (key) VALUES (?)", (row["key"],))

    def delete(self, article_id: str) -> bool:
        """Remove an article; False when the id is unknown."""
        with self._transaction() as conn:
            row = conn.execute("DELETE FROM articles WHERE id = ? RETURNING key", (article_id,)).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM pins WHERE article_id = ?", (article_id,))
            conn.execute("INSERT INTO changes (key) VALUES (?)", (row["key"],))
            return True

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
            return self._conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]

    def changes_since(self, seq: int) -> tuple[int, dict[int, str | None]]:
        """Keys changed after `seq`: each mapped to its current embed_key, or None if deleted.

        Returns the newest sequence number read with them, so that the caller can resume from it.
        """
        with self._transaction("DEFERRED") as conn:
            last = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
            keys = [r[0] for r in conn.execute("SELECT DISTINCT key FROM changes WHERE seq > ? AND seq <= ?", (seq, last))]
            current: dict[int, str | None] = dict.fromkeys(keys)
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(f"SELECT key, embed_key FROM articles WHERE key IN ({marks})", chunk):
                    current[row["key"]] = row["embed_key"]
        return last, current

    def snapshot(self) -> tuple[int, list[StoredArticle]]:
        """Every article and the change sequence they are consistent with, read in one transaction."""
        with self._transaction("DEFERRED") as conn:
            last = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
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
        """Record story ids by key (story ids do not touch vectors: no change is logged)."""
        if not pairs:
            return
        with self._transaction() as conn:
            conn.executemany("UPDATE articles SET story_id = ? WHERE key = ?", [(story, key) for key, story in pairs])

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
            conn.execute("DELETE FROM pins WHERE article_id = ?", (article_id,))
            conn.executemany("INSERT INTO pins (article_id, position, pinned_id) VALUES (?, ?, ?)",
                             [(article_id, i, pinned) for i, pinned in enumerate(pinned_ids)])

"""The article store's tables, the columns added to data folders made before them, and how an
articles row maps to a `StoredArticle` and back."""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..records.article import Article
from ..records.stored import StoredArticle
from ..text.overlap import Fingerprint, from_blob, to_blob
from . import word_index

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
    embed_key TEXT,                                  -- the vector it was stored with (NULL: deleted, or 0 above)
    words  TEXT                                      -- its indexed words before and after (vector changes)
);
"""

# Columns added after the first release, by table, for data folders made before them.
_ADDED_COLUMNS = {
    "articles": {
        "headline_hash": "TEXT", "body_hash": "TEXT", "body_shingles": "BLOB", "headline_shingles": "BLOB",
        "story_id": "TEXT", "linked": "INTEGER NOT NULL DEFAULT 1",
    },
    "changes": {"vector": "INTEGER NOT NULL DEFAULT 1", "embed_key": "TEXT", "words": "TEXT"},
}
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS articles_story ON articles (story_id)",
    "CREATE INDEX IF NOT EXISTS articles_unlinked ON articles (key) WHERE linked = 0",
    "CREATE INDEX IF NOT EXISTS pins_pinned ON pins (pinned_id)",
    # The newest of a section (a block's `fill`) and of all (warming) without sorting the store.
    "CREATE INDEX IF NOT EXISTS articles_section_published ON articles (section, published_at)",
    "CREATE INDEX IF NOT EXISTS articles_published ON articles (published_at)",
)

# What a StoredArticle is read from, in this order.
_READ = (
    "key", "id", "headline", "body", "url", "source", "published_at", "language", "section", "tags", "embed_key",
    "headline_hash", "body_hash", "body_shingles", "headline_shingles", "story_id",
)
COLUMNS = ", ".join(_READ)

# Insert or replace one article by id; a replaced one keeps its key, and either starts unlinked
# (linked = 0) unless its linking is left to the next rebuild (linked = 1: a story of its own until then).
UPSERT = """
INSERT INTO articles (id, headline, body, url, source, published_at, language,
                      section, tags, embed_key, updated_at, headline_hash, body_hash,
                      body_shingles, headline_shingles, story_id, linked)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    headline=excluded.headline, body=excluded.body, url=excluded.url,
    source=excluded.source, published_at=excluded.published_at,
    language=excluded.language, section=excluded.section, tags=excluded.tags,
    embed_key=excluded.embed_key, updated_at=excluded.updated_at,
    headline_hash=excluded.headline_hash, body_hash=excluded.body_hash,
    body_shingles=excluded.body_shingles, headline_shingles=excluded.headline_shingles,
    story_id=excluded.story_id, linked=excluded.linked
RETURNING key
"""

# The same for articles not stored yet, many at a time (executemany takes no RETURNING).
INSERT = UPSERT.split("ON CONFLICT")[0]


def create(conn: sqlite3.Connection) -> None:
    """Create the tables, or bring those of an older data folder up to date."""
    conn.executescript(SCHEMA)
    conn.executescript(word_index.SCHEMA)
    for table, added in _ADDED_COLUMNS.items():
        present = {d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description}
        for column, kind in added.items():
            if column not in present:
                _add_column(conn, table, column, kind)
    for statement in _INDEXES:
        conn.execute(statement)


def _add_column(conn: sqlite3.Connection, table: str, column: str, kind: str) -> None:
    """Add a column to a data folder made before it; another process may be doing the same."""
    try:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):
            raise


def like_pattern(text: str) -> str:
    """A LIKE pattern matching headlines that contain `text` (its wildcards escaped with a backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def columns(table: str = "", body_chars: int | None = None) -> str:
    """The select list of a StoredArticle, its names qualified by `table` when given.

    Args:
        body_chars: read only the start of each body (enough for a lead), not all of it; 0 reads none
            of it (the columns after it are then reached without loading it: half the cost of a row).
    """
    prefix = f"{table}." if table else ""
    names = [f"{prefix}{name}" for name in _READ]
    if body_chars == 0:
        names[_READ.index("body")] = "'' AS body"
    elif body_chars is not None:
        names[_READ.index("body")] = f"substr({prefix}body, 1, {int(body_chars)}) AS body"
    return ", ".join(names)


def to_stored(row: sqlite3.Row) -> StoredArticle:
    """The StoredArticle of a row read with `columns()`."""
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
    story_id = row["story_id"] or row["id"]  # NULL in rows stored before stories existed
    return StoredArticle(key=row["key"], article=article, embed_key=row["embed_key"], fingerprint=fp, story_id=story_id)


def upsert_values(article: Article, embed_key: str, fp: Fingerprint, now: str, linked: bool = False) -> tuple[Any, ...]:
    """The parameters of `UPSERT` for one article (a new or replaced article is a story of its own)."""
    return (
        article.id, article.headline, article.body, article.url, article.source,
        article.published_at, article.language, article.section,
        json.dumps(article.tags, ensure_ascii=False), embed_key, now,
        *fingerprint_values(fp), article.id, int(linked),
    )


def fingerprint_values(fp: Fingerprint) -> tuple[Any, ...]:
    """headline_hash, body_hash, body_shingles, headline_shingles of a fingerprint, as stored."""
    return fp.headline_hash, fp.body_hash, to_blob(fp.body_shingles), to_blob(fp.headline_shingles)

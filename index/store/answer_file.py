"""The SQLite file of answers every process of a data folder shares (see `answers.AnswerCache`)."""
from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from ..sqlite import open_cache_file

log = logging.getLogger(__name__)

# How long a request waits for another process's write to the answer file before it does without.
FILE_WAIT_MS = 2000

# The table of the format before asked words, dropped when a file made then is opened (its answers
# cannot say which words they searched: none could be proved current).
OLD_FORMAT = "DROP TABLE IF EXISTS answers"
SCHEMA = f"""
{OLD_FORMAT};
CREATE TABLE IF NOT EXISTS answers_v2 (
    version   TEXT NOT NULL,     -- index version, related floor and answer format it was computed with
    article   TEXT NOT NULL,     -- the query article's id
    options   TEXT NOT NULL,     -- SimilarOptions, canonical JSON
    key       INTEGER NOT NULL,  -- the query article's key
    threshold REAL NOT NULL,
    seq       INTEGER NOT NULL,  -- the change-log position it is current at
    asked     TEXT NOT NULL,     -- the words it asked for, space-separated
    body      BLOB NOT NULL,     -- the answer, JSON compressed with zlib (about a third of the size)
    PRIMARY KEY (version, article, options)
);
"""


class AnswerFile:
    """Answer rows in a SQLite file; busy past FILE_WAIT_MS or damaged, it is done without.

    Opening one creates its table, and drops the table of an older format (`OLD_FORMAT`) if the file
    holds one."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = open_cache_file(path, SCHEMA, "answer file", busy_timeout_ms=FILE_WAIT_MS)

    def read(self, key: tuple[str, str, str]) -> tuple[int, float, int, str, bytes] | None:
        try:
            with self._lock:
                row = self._conn.execute("SELECT key, threshold, seq, asked, body FROM answers_v2 "
                                         "WHERE version = ? AND article = ? AND options = ?", key).fetchone()
        except sqlite3.Error as exc:  # busy past FILE_WAIT_MS, or damaged: compute the answer instead
            log.warning("answer file not read: %s", exc)
            return None
        return tuple(row) if row is not None else None

    def write(self, key: tuple[str, str, str], row: tuple[int, float, int, str, bytes]) -> None:
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT OR REPLACE INTO answers_v2 (version, article, options, key, threshold, seq, asked, body) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*key, *row))
        except sqlite3.Error as exc:  # the answer is still served, and kept in memory
            log.warning("answer not filed: %s", exc)

    def keep_only(self, version: str) -> None:
        """Delete the answers of other versions, in short transactions (others write too)."""
        while True:
            try:
                with self._lock:
                    deleted = self._conn.execute(
                        "DELETE FROM answers_v2 WHERE rowid IN (SELECT rowid FROM answers_v2 WHERE version != ? LIMIT 2000)",
                        (version,)).rowcount
            except sqlite3.Error as exc:
                log.warning("answers of older versions not removed yet: %s", exc)
                return
            if deleted == 0:
                return

    def count(self, version: str) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM answers_v2 WHERE version = ?", (version,)).fetchone()[0]

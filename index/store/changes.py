"""The store's change log, as functions over a connection inside the store's transactions.

Every write appends the integer keys of the articles it touches: a vector change (stored, replaced
or deleted, with the embedding it was stored with) or a display change (its story or pins only).
A change to an article is also a display change of every article that pins it, since pins show it.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Sequence

from ..sqlite import rows_in

# The newest change ever logged: still right once older entries are forgotten (AUTOINCREMENT keeps
# it in sqlite_sequence; max(seq) would go back once the log is emptied).
LAST_SEQ = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)"
# A display change (vector 0) for every article that pins the article with this key.
_LOG_PINNERS = (
    "INSERT INTO changes (key, vector) SELECT a.key, 0 FROM articles pinned JOIN pins p ON p.pinned_id = pinned.id "
    "JOIN articles a ON a.id = p.article_id WHERE pinned.key = ?"
)


@dataclass(frozen=True)
class Changes:
    """What the change log holds after a position."""

    seq: int  # the newest position read, to resume from
    current: dict[int, str | None]  # keys stored, replaced or deleted: their embed_key now (None: deleted)
    display_only: set[int]  # keys whose story or pins changed, and nothing else
    stored_with: set[tuple[int, str]]  # (key, embed_key) of every store in between, the last one included
    words: dict[int, frozenset[str]]  # every word a changed article held in between (see `lexical`)


def log_vector(conn: sqlite3.Connection, key: int, embed_key: str | None, words: str) -> None:
    """Log a change of one article's vector (stored with `embed_key`; None: about to be deleted) and
    its words before and after, and a display change of the articles that pin it."""
    conn.execute("INSERT INTO changes (key, vector, embed_key, words) VALUES (?, 1, ?, ?)", (key, embed_key, words))
    conn.execute(_LOG_PINNERS, (key,))


def log_new_vectors(conn: sqlite3.Connection, rows: Sequence[tuple[int, str, str]]) -> None:
    """Log (key, embed_key, words) of articles just stored for the first time (their indexed words,
    in any order, repeats allowed): nothing pins them yet."""
    conn.executemany("INSERT INTO changes (key, vector, embed_key, words) VALUES (?, 1, ?, ?)", rows)


def log_display(conn: sqlite3.Connection, keys: Sequence[int]) -> None:
    """Log display changes of these articles and of the articles that pin them."""
    conn.executemany("INSERT INTO changes (key, vector) VALUES (?, 0)", [(key,) for key in keys])
    conn.executemany(_LOG_PINNERS, [(key,) for key in keys])


def log_pins(conn: sqlite3.Connection, article_id: str) -> None:
    """Log a display change of the article whose pins change (none when it is not stored)."""
    conn.execute("INSERT INTO changes (key, vector) SELECT key, 0 FROM articles WHERE id = ?", (article_id,))


def last_seq(conn: sqlite3.Connection) -> int:
    """The sequence number of the newest change (0 for an empty log)."""
    return conn.execute(LAST_SEQ).fetchone()[0]


def read_since(conn: sqlite3.Connection, seq: int) -> Changes:
    """The changes after `seq`; run it in one transaction, so that the articles read match the log."""
    last = last_seq(conn)
    rows = conn.execute("SELECT key, vector, embed_key, words FROM changes WHERE seq > ? AND seq <= ?",
                        (seq, last)).fetchall()
    vector_keys, display_keys = changed_keys(rows)
    now = {row[0]: row[1] for row in rows_in(conn, "SELECT key, embed_key FROM articles WHERE key IN ({marks})",
                                             vector_keys)}
    terms = {row[0]: row[1] for row in rows_in(conn, "SELECT rowid, terms FROM lexical WHERE rowid IN ({marks})",
                                               display_keys)}
    return fold(last, rows, now, terms)


def changed_keys(rows: Sequence[Sequence]) -> tuple[list[int], list[int]]:
    """The keys of log rows (key, vector, embed_key, words) with a vector change, and with only display changes."""
    flags: dict[int, int] = {}
    for key, vector, *_ in rows:
        flags[key] = max(flags.get(key, 0), vector)
    return [k for k, v in flags.items() if v], [k for k, v in flags.items() if not v]


def fold(last: int, rows: Sequence[Sequence], embed_keys_now: dict[int, str], display_terms: dict[int, str]) -> Changes:
    """The `Changes` of log rows (key, vector, embed_key, words) up to `last`, given the embed_key each
    article with a vector change has now (absent: deleted) and the indexed words (space-separated) of
    each article with display changes only."""
    vector_keys, display_keys = changed_keys(rows)
    words: dict[int, set[str]] = {}
    for key, _, _, held in rows:
        words.setdefault(key, set()).update((held or "").split())
    for key in display_keys:
        words[key].update((display_terms.get(key) or "").split())
    return Changes(last, {key: embed_keys_now.get(key) for key in vector_keys}, set(display_keys),
                   {(key, ek) for key, vector, ek, _ in rows if vector and ek is not None},
                   {key: frozenset(held) for key, held in words.items()})


def forget_before(conn: sqlite3.Connection, seq: int) -> None:
    """Drop the entries up to `seq` (the sequence keeps counting from the newest)."""
    conn.execute("DELETE FROM changes WHERE seq <= ?", (seq,))

"""The store's change log: what a write transaction appends (`ChangeBatch`) and what a reader makes of
the entries after a position (`fold`).

Every write appends the integer keys of the articles it touches: a vector change (stored, replaced
or deleted, with the embedding it was stored with) or a display change (its story or pins only).
A change to an article is also a display change of every article that pins it, since pins show it.
How the entries are numbered is the database's (`dialect.Dialect.append_changes`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The articles that pin the article with this key (or these keys): a change of it is a display change of theirs.
PINNERS = ("SELECT a.key FROM articles pinned JOIN pins p ON p.pinned_id = pinned.id "
           "JOIN articles a ON a.id = p.article_id WHERE pinned.key = ?")
PINNERS_IN = PINNERS.replace("= ?", "IN ({marks})")
# The articles that pin any of these ids (articles being stored for the first time).
PINNERS_OF_IDS = "SELECT a.key FROM pins p JOIN articles a ON a.id = p.article_id WHERE p.pinned_id IN ({marks})"


@dataclass(frozen=True)
class Changes:
    """What the change log holds after a position."""

    seq: int  # the newest position read, to resume from
    current: dict[int, str | None]  # keys stored, replaced or deleted: their embed_key now (None: deleted)
    display_only: set[int]  # keys whose story or pins changed, and nothing else
    stored_with: set[tuple[int, str]]  # (key, embed_key) of every store in between, the last one included
    words: dict[int, frozenset[str]]  # every word a changed article held in between (see `lexical`)


class ChangeBatch:
    """The change-log rows (key, vector, embed_key, words) of one write transaction, in the order
    logged, appended at its end (`write`) by the store's dialect: on PostgreSQL the lock on
    `change_head` that orders commits is then held as briefly as possible."""

    def __init__(self, dialect: Any, conn: Any) -> None:
        self.dialect, self.conn, self.rows = dialect, conn, []

    def vector(self, key: int, embed_key: str | None, words: str, pinners: bool = True) -> None:
        """A change of one article's vector (stored with `embed_key`; None: about to be deleted) and
        its indexed words before and after (space-separated, any order), and a display change of the
        articles that pin it (log it before its pins go)."""
        self.rows.append((key, 1, embed_key, words))
        if pinners:
            self.display([r["key"] for r in self.conn.execute(PINNERS, (key,))], pinners=False)

    def display(self, keys: Sequence[int], pinners: bool = True) -> None:
        """Display changes of these articles and (`pinners`) of the articles that pin them."""
        self.rows.extend((key, 0, None, None) for key in keys)
        if pinners:
            self.display([r["key"] for r in self.dialect.rows_in(self.conn, PINNERS_IN, keys)], pinners=False)

    def write(self) -> None:
        if self.rows:
            self.dialect.append_changes(self.conn, self.rows)
            self.rows = []


def changed_keys(rows: Sequence[Sequence]) -> tuple[list[int], list[int]]:
    """The keys of log rows (key, vector, embed_key, words) with a vector change, and with only display changes."""
    flags: dict[int, int] = {}
    for key, vector, *_ in rows:
        flags[key] = max(flags.get(key, 0), vector)
    return [k for k, v in flags.items() if v], [k for k, v in flags.items() if not v]


def fold(last: int, rows: Sequence[Sequence], embed_keys_now: dict[int, str],
         display_words: dict[int, frozenset[str]]) -> Changes:
    """The `Changes` of log rows (key, vector, embed_key, words) up to `last`, given the embed_key each
    article with a vector change has now (absent: deleted) and the indexed words of each article with
    display changes only."""
    vector_keys, display_keys = changed_keys(rows)
    words: dict[int, set[str]] = {}
    for key, _, _, held in rows:
        words.setdefault(key, set()).update((held or "").split())
    for key in display_keys:
        words[key].update(display_words.get(key, ()))
    return Changes(last, {key: embed_keys_now.get(key) for key in vector_keys}, set(display_keys),
                   {(key, ek) for key, vector, ek, _ in rows if vector and ek is not None},
                   {key: frozenset(held) for key, held in words.items()})

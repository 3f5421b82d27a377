"""What differs between the databases the store runs on (`sql_store.SqlStore`): one `Dialect` object
each, `sqlite_store.SQLite` and `pg_store.Postgres`."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Dialect(Protocol):
    """One database's part of the store. Its connections take `?` placeholders, `execute` and
    `executemany`, and give rows readable by column name."""

    collate: str  # after published_at wherever it is ordered or compared: the same (byte) order everywhere
    like: str  # the condition matching headlines with a `schema.like_pattern` (?), ASCII case ignored
    for_update: str  # after the SELECT of a row about to be deleted: held until the transaction ends
    last_seq: str  # the number of the newest change ever logged, as `seq` (0 when none)
    bulk_insert: bool  # new articles many at a time: writers take turns, so what is not stored stays so

    def read(self, consistent: bool = False) -> AbstractContextManager[Any]:
        """A connection to read on; `consistent`: every statement sees one snapshot (a transaction)."""

    def write(self, work: Callable[[Any], T]) -> T:
        """`work(conn)` in one write transaction, committed at its end, rolled back on any exception."""

    def rows_in(self, conn: Any, sql: str, values: Sequence[Any]) -> list[Any]:
        """The rows of `sql`, each of its `IN ({marks})` lists holding every value (none: no rows)."""

    def words_by_key(self, conn: Any, keys: Sequence[int]) -> dict[int, frozenset[str]]:
        """The word index's words of these articles."""

    def put_words(self, conn: Any, rows: Sequence[tuple[int, str]], new: bool = False) -> None:
        """Index (key, words space-separated), replacing what a key held; `new`: keys it lacks."""

    def remove_words(self, conn: Any, key: int) -> None:
        """Drop an article from the word index."""

    def append_changes(self, conn: Any, rows: Sequence[tuple]) -> None:
        """Append change-log rows (key, vector, embed_key, words), numbered in this order."""

    def lock_pins(self, conn: Any, article_id: str, pinned_ids: Sequence[str]) -> None:
        """Hold off what must not run beside a change of these pins (another save of them, a change
        of a pinned article in flight)."""

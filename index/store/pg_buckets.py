"""The rate limit's token buckets in the shared PostgreSQL database: one limit per client for every machine."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .postgres import transaction


class PostgresBuckets:
    """The rate limit's token buckets (see `base.Buckets`) in the shared database:
    several machines share one limit per client."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def update(self, client: str, clock: Callable[[], float],
               spend: Callable[[tuple[float, float] | None, float], tuple[float, float, float]],
               forget_after: float | None) -> float:
        """Replace a client's (tokens, at) by spend's, the row locked meanwhile and the time read from
        `clock` once it is; returns spend's wait.

        Args:
            forget_after: also drop the buckets idle for longer than this many seconds.
        """
        with transaction(self._pool) as conn:
            conn.execute("INSERT INTO buckets (client, tokens, at) VALUES (%s, NULL, NULL) ON CONFLICT DO NOTHING",
                         (client,))
            row = conn.execute("SELECT tokens, at FROM buckets WHERE client = %s FOR UPDATE", (client,)).fetchone()
            now = clock()
            tokens, at, wait = spend((row["tokens"], row["at"]) if row["tokens"] is not None else None, now)
            conn.execute("UPDATE buckets SET tokens = %s, at = %s WHERE client = %s", (tokens, at, client))
            if forget_after is not None:
                conn.execute("DELETE FROM buckets WHERE at < %s", (now - forget_after,))
        return wait

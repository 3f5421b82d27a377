"""The rate limit's token buckets in a SQLite file of the data folder, shared by the workers of one
machine (the shared database's are `pg_buckets`)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ..sqlite import open_cache_file, transaction
from .base import Spend

LIMITS_WAIT_MS = 1000  # how long a request waits for another worker's hold on the shared rate limit


class SqliteBuckets:
    """Token buckets in a SQLite file (see `RateLimiter`)."""

    def __init__(self, path: Path) -> None:
        schema = "CREATE TABLE IF NOT EXISTS buckets (client TEXT PRIMARY KEY, tokens REAL, at REAL);"
        self._conn = open_cache_file(path, schema, "rate-limit state", busy_timeout_ms=LIMITS_WAIT_MS)
        self._lock = threading.Lock()

    def update(self, client: str, clock: Callable[[], float], spend: Spend, forget_after: float | None) -> float:
        """Replace a client's (tokens, at) by spend's in one transaction, the time read from `clock`
        once every other process's update is done (BEGIN IMMEDIATE); returns spend's wait.

        Args:
            forget_after: also drop the buckets idle for longer than this many seconds.
        """
        with transaction(self._conn, self._lock) as conn:
            now = clock()
            row = conn.execute("SELECT tokens, at FROM buckets WHERE client = ?", (client,)).fetchone()
            tokens, at, wait = spend(tuple(row) if row else None, now)
            conn.execute("INSERT INTO buckets (client, tokens, at) VALUES (?, ?, ?) "
                         "ON CONFLICT(client) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
                         (client, tokens, at))
            if forget_after is not None:
                conn.execute("DELETE FROM buckets WHERE at < ?", (now - forget_after,))
        return wait

"""The answers in the shared PostgreSQL database: one computed by one machine is served by all."""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class PostgresAnswers:
    """The answers every process shares (see `base.AnswerTable`), in the shared database: an answer
    one replica computed is served by all. Unreachable, it is done without (computed, kept in memory)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def read(self, key: tuple[str, str, str]) -> tuple[int, float, int, str, bytes] | None:
        r = self._run("shared answers not read", "SELECT key, threshold, seq, asked, body FROM answers "
                      "WHERE version = %s AND article = %s AND options = %s", key)
        return (r["key"], r["threshold"], r["seq"], r["asked"], bytes(r["body"])) if r else None

    def write(self, key: tuple[str, str, str], row: tuple[int, float, int, str, bytes]) -> None:
        self._run("answer not shared", "INSERT INTO answers (version, article, options, key, threshold, seq, asked, body) "
                  "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (version, article, options) DO UPDATE "
                  "SET key = excluded.key, threshold = excluded.threshold, seq = excluded.seq, "
                  "asked = excluded.asked, body = excluded.body", (*key, *row))

    def keep_only(self, version: str) -> None:
        """Delete other versions' answers, 5,000 a transaction (replicas still on one may be filing)."""
        deleted = 1
        while deleted:
            row = self._run("answers of older versions not removed yet",
                            "WITH gone AS (DELETE FROM answers WHERE ctid IN (SELECT ctid FROM answers "
                            "WHERE version != %s LIMIT 5000) RETURNING 1) SELECT count(*) AS n FROM gone", (version,))
            deleted = row["n"] if row else 0

    def count(self, version: str) -> int:
        row = self._run("shared answers not counted", "SELECT count(*) AS n FROM answers WHERE version = %s", (version,))
        return row["n"] if row else 0

    def _run(self, failure: str, sql: str, params: tuple) -> dict | None:
        """The first row of one statement, or None (logged) when the database is out of reach or
        busy for more than a second or two: a request goes on without."""
        from psycopg import Error
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection(timeout=2) as conn, conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '1s'")
                cursor = conn.execute(sql, params)
                return cursor.fetchone() if cursor.description else None
        except (Error, PoolTimeout) as exc:
            log.warning("%s: %s", failure, exc)
            return None

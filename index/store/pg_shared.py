"""What machines without a shared disk share through PostgreSQL beside the store: the embedding cache
(a vector embedded by one is never embedded again by another), the answers (one computed by one is
served by all) and the index versions a rebuild publishes (every replica copies the live one to its
own folder and loads it from there).
"""
from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import snapshots
from ..embedding.cache import seed_from_file
from .postgres import REBUILD_LOCK, SET_META, advisory_lock, transaction

log = logging.getLogger(__name__)

PART_BYTES = 64 << 20  # files over this are cut in parts
POINTER = "index:current"  # the meta row naming the live version


class PostgresEmbeddingCache:
    """The embedding cache (see `embedding_cache.EmbeddingCache`) in the shared database."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def close(self) -> None:
        """The pool is the store's: it closes it."""

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT key, vector FROM embeddings WHERE key = ANY(%s)", (list(dict.fromkeys(keys)),))
            return {r["key"]: np.frombuffer(r["vector"], dtype=np.float32) for r in rows}

    def put_many(self, keys: Sequence[str], vectors: np.ndarray, replace: bool = True) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        then = "DO UPDATE SET vector = excluded.vector" if replace else "DO NOTHING"
        with transaction(self._pool) as conn, conn.cursor() as cur:
            cur.executemany(f"INSERT INTO embeddings (key, vector) VALUES (%s, %s) ON CONFLICT (key) {then}", rows)

    def seed(self, path: Path, model: str) -> int:
        return seed_from_file(self, path, model)


class PostgresAnswers:
    """The answers every process shares (see `answers.AnswerTable`), in the shared database: an answer
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


class PostgresBuckets:
    """The rate limit's token buckets (see `service.security.RateLimiter`) in the shared database:
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


class SharedVersions:
    """Index versions in the database: a rebuild publishes its version there, and every replica
    copies the live one into its own index folder (`mirror`) before loading it as usual."""

    def __init__(self, pool: Any, locks: Any) -> None:
        self._pool, self._locks = pool, locks

    def rebuilding(self) -> AbstractContextManager[bool]:
        """Held alone by the one rebuild running on this database (False: another is running)."""
        return advisory_lock(self._locks, REBUILD_LOCK, exclusive=True)

    def publish(self, root: Path, version: str, keep: int) -> None:
        """Copy a version built under `root` to the database, make it the live one, and drop all but
        the newest `keep` versions there."""
        with transaction(self._pool) as conn, conn.cursor() as cur:
            for name, data in snapshots.version_files(root, version).items():
                cur.executemany("INSERT INTO index_files (version, name, part, data) VALUES (%s, %s, %s, %s)",
                                [(version, name, i, data[start:start + PART_BYTES])
                                 for i, start in enumerate(range(0, max(len(data), 1), PART_BYTES))])
            cur.execute(SET_META, (POINTER, version.encode()))
            cur.execute("DELETE FROM index_files WHERE version NOT IN (SELECT DISTINCT version COLLATE \"C\" AS v "
                        "FROM index_files ORDER BY v DESC LIMIT %s) AND version != %s", (keep, version))

    def live(self) -> str | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = %s", (POINTER,)).fetchone()
        return bytes(row["value"]).decode() if row else None

    def mirror(self, root: Path) -> bool:
        """Make the database's live version the live one under `root` (copied once; never an older one
        than the folder's: a rebuild here moves the folder first), and drop the folder's versions the
        database no longer keeps (their change log is gone). True if the live version changed."""
        live, here = self.live(), snapshots.current_version(root)
        if live is None or (here is not None and here >= live):
            return False
        files: dict[str, list[bytes]] = {}
        if live not in snapshots.versions(root):
            with self._pool.connection() as conn:
                for r in conn.execute("SELECT name, data FROM index_files WHERE version = %s ORDER BY name, part",
                                      (live,)):
                    files.setdefault(r["name"], []).append(bytes(r["data"]))
            if not files:
                return False  # pruned meanwhile: a newer one is live now
        snapshots.install(root, live, {name: b"".join(parts) for name, parts in files.items()})
        with self._pool.connection() as conn:
            kept = {r["version"] for r in conn.execute("SELECT DISTINCT version FROM index_files")}
        snapshots.prune(root, keep=0, also_keep=kept)
        return True

    def kept_seqs(self) -> list[int]:
        """The change-log position of every version the database keeps (their logs must stay)."""
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT data FROM index_files WHERE name = %s AND part = 0", (snapshots.META,))
            return [json.loads(bytes(r["data"]))["seq"] for r in rows]

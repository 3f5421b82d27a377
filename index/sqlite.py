"""The SQLite plumbing every file of a data folder shares: how a connection is opened, a transaction,
and an `IN` list longer than SQLite lets one statement bind.

The store, the embedding cache, the answer cache and the rate limiter each keep one connection,
shared by threads under their own lock; these helpers take that lock, so none of them writes
BEGIN/ROLLBACK/COMMIT by hand.
"""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from .errors import StorageFull, is_storage_full

log = logging.getLogger(__name__)

# Parameters one statement binds at most: older SQLite builds stop at 999.
CHUNK = 500
MARKS = "{marks}"
_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def connect(path: Path, busy_timeout_ms: int = 30_000) -> sqlite3.Connection:
    """Open a SQLite database for use from several threads (callers hold a lock) in WAL mode.

    Args:
        busy_timeout_ms: how long a statement waits for another process's write lock.
    """
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    _set_wal(conn, busy_timeout_ms / 1000)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    return conn


def is_damaged(exc: sqlite3.Error) -> bool:
    """Whether an error says the file is no SQLite database or a damaged one (not busy, not read-only:
    those are OperationalError and say nothing of the file's contents)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return type(exc) is sqlite3.DatabaseError


def open_cache_file(path: Path, schema: str, what: str, busy_timeout_ms: int = 30_000) -> sqlite3.Connection:
    """Open a SQLite file that only caches or keeps state that may be lost (embeddings, answers, rate
    limits) and create its `schema`; a damaged one is moved aside as `<name>.damaged-<unix time>`
    (with its -wal and -shm) and started afresh, logged as a warning naming both, since it must not
    stop the service. `what` names the file's role in that message."""
    conn: sqlite3.Connection | None = None
    try:
        conn = connect(path, busy_timeout_ms)
        conn.executescript(schema)
        return conn
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        if not is_damaged(exc):
            raise
        aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
        log.warning("%s %s is damaged (%s); moved to %s, starting an empty one", what, path, exc, aside.name)
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    conn = connect(path, busy_timeout_ms)
    conn.executescript(schema)
    return conn


def _set_wal(conn: sqlite3.Connection, patience: float) -> None:
    """WAL mode. Switching takes a lock for which SQLite calls no busy handler, so a process opening the
    file while another creates it (two imports started together) retries here meanwhile."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def transaction(
    conn: sqlite3.Connection, lock: AbstractContextManager[Any], mode: str = "IMMEDIATE"
) -> Iterator[sqlite3.Connection]:
    """A transaction under `lock`, rolled back on any exception: IMMEDIATE to write, DEFERRED for a
    consistent read of several statements.

    Raises:
        StorageFull: the disk had no room for the transaction (nothing of it was kept).
    """
    if mode not in _MODES:
        raise ValueError(f"transaction mode must be one of {', '.join(_MODES)}, got {mode!r}")
    with lock:
        try:
            conn.execute(f"BEGIN {mode}")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:  # never leave the connection inside a transaction
                if conn.in_transaction:  # SQLite may have rolled back itself (a full disk)
                    conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            if is_storage_full(exc):
                raise StorageFull(f"no room left on the disk of the data folder ({exc}); nothing of this "
                                  "write was kept: send it again once there is room", None) from exc
            raise


def rows_in(conn: sqlite3.Connection, sql: str, values: Sequence[Any], chunk: int = CHUNK) -> Iterator[sqlite3.Row]:
    """The rows of `sql` for every value, run over chunks of `values`.

    `sql` holds `IN ({marks})` where a chunk's placeholders go; each of its IN lists gets the same
    chunk, and a statement binds at most `chunk` parameters. The caller holds the connection's lock
    while it reads the rows.
    """
    lists = sql.count(MARKS)
    if not lists:
        raise ValueError(f"sql must hold IN ({MARKS}), got {sql!r}")
    values, step = list(values), max(1, chunk // lists)
    for start in range(0, len(values), step):
        part = values[start : start + step]
        yield from conn.execute(sql.replace(MARKS, ",".join("?" * len(part))), part * lists)


@contextmanager
def file_lock(path: Path, exclusive: bool) -> Iterator[bool]:
    """Hold a lock file shared, or try to hold it alone (yields False when another holds it); the
    system releases it when a process dies."""
    with open(path, "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            yield False
            return
        yield True

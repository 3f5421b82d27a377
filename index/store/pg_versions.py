"""The index versions a rebuild publishes in the shared PostgreSQL database: every replica copies the
live one to its own folder and loads it from there (machines without a shared disk)."""
from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from . import snapshots
from .postgres import REBUILD_LOCK, SET_META, advisory_lock, transaction

PART_BYTES = 64 << 20  # files over this are cut in parts
POINTER = "index:current"  # the meta row naming the live version


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

"""Domain errors. The HTTP layer maps them to status codes; the engine never does."""
from __future__ import annotations

import errno
import sqlite3


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(EngineError):
    """A value given by the caller breaks a rule; `field` names it."""

    code = "invalid"


class NotFound(EngineError):
    """An id that the store does not hold."""

    code = "not_found"


class ModelMismatch(EngineError):
    """The index on disk was built with another embedding model than the one configured."""

    code = "model_mismatch"


class IndexCorrupt(EngineError):
    """An index file that cannot be read back (truncated, damaged, or from another format)."""

    code = "index_corrupt"


class RebuildBusy(EngineError):
    """Another rebuild of the same data folder is running."""

    code = "rebuild_busy"


class StoreUnavailable(EngineError):
    """The article store cannot be trusted: damaged, removed or replaced under a running process, or
    holding less than the index built from it."""

    code = "store_unavailable"


class DataDirUnusable(EngineError):
    """The data folder cannot be written to (read-only, wrong owner)."""

    code = "data_dir_unusable"


class StorageFull(EngineError):
    """A write found no room on the disk (or past the process's file size limit): none of it was kept,
    and it may be sent again once there is room."""

    code = "disk_full"


# The system's errors of a write that found no room: no space, over a quota, over RLIMIT_FSIZE.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def is_storage_full(exc: BaseException) -> bool:
    """Whether an error says a write found no room: SQLite's "database or disk is full" (SQLITE_FULL),
    or ENOSPC, EDQUOT or EFBIG from the system."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    if getattr(exc, "sqlstate", None) == "53100":  # PostgreSQL's disk_full (psycopg's errors carry it)
        return True
    return isinstance(exc, OSError) and exc.errno in _NO_ROOM

"""The one place a store is chosen: a `postgresql://` URL or a SQLite file."""
from __future__ import annotations

from pathlib import Path

from .base import Store
from .postgres import is_database_url
from .sqlite_store import ArticleStore


def open_store(location: Path | str) -> Store:
    """The store at `location`: a `postgresql://` URL (shared by several machines), or a SQLite file."""
    if is_database_url(location):
        from .pg_store import PostgresStore  # psycopg is an optional dependency

        return PostgresStore(str(location))
    return ArticleStore(Path(location))

"""The one place the engine's state is placed: every part bound to where it lives, for a data folder
and an optional `postgresql://` URL. With a URL, the store, the embedding cache, the shared answers
and the rate limit's buckets live in that database, shared by every machine; without one, in files of
the data folder, shared by the processes of one machine."""
from __future__ import annotations

import functools
from pathlib import Path

from ..embedding.cache import EmbeddingCache
from .answer_file import AnswerFile
from .base import AnswerTable, Buckets, Store
from .postgres import is_database_url
from .sqlite_buckets import SqliteBuckets
from .sqlite_store import ArticleStore


def open_store(location: Path | str) -> Store:
    """The store alone at `location`: a `postgresql://` URL (shared by several machines), or a SQLite file."""
    if is_database_url(location):
        from .pg_store import PostgresStore  # psycopg is an optional dependency

        return PostgresStore(str(location))
    return ArticleStore(Path(location))


class Backend:
    """The store, and beside it what is kept where it is: the embedding cache (a file given apart wins),
    the shared answers and the rate-limit buckets (these two opened when first used)."""

    def __init__(self, data_dir: Path, database_url: str | None = None, embedding_cache: Path | None = None) -> None:
        self.data_dir, self.shared = Path(data_dir), bool(database_url)
        self.store = open_store(database_url or self.data_dir / "articles.sqlite")
        self.store_name = "of DATABASE_URL" if database_url else str(self.data_dir / "articles.sqlite")
        self.embedding_cache = (EmbeddingCache(Path(embedding_cache)) if embedding_cache
                                else self.store.embedding_cache() if self.shared
                                else EmbeddingCache(self.data_dir / "embeddings.sqlite"))

    @functools.cached_property
    def answers(self) -> AnswerTable:
        return self.store.answer_table() if self.shared else AnswerFile(self.data_dir / "answers.sqlite")

    @functools.cached_property
    def buckets(self) -> Buckets:
        return self.store.bucket_table() if self.shared else SqliteBuckets(self.data_dir / "limits.sqlite")

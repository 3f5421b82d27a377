"""Shared fixtures: the real e5 model (loaded once), real SQLite and FAISS in temporary folders.

Vectors are cached by (model, exact text) in one embedding cache shared by every test engine
(`TEST_EMBEDDING_CACHE`, default `.cache/` in the repo). The cache starts seeded with the model's
vectors of the bundled sample (`sample/*.vectors.npz`, checked against the model by
test_sample_vectors.py), so the sample is never embedded; every other text is embedded for real.
"""
from __future__ import annotations

import gzip
import http.server
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from index import crash_points
from index.embedding.cache import EmbeddingCache
from index.embedding.models import DEFAULT_MODEL, E5Embedder
from index.engine import Engine
from index.records.article import validate_article
from service import create_app
from service.config import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz"
SAMPLE_VECTORS = ROOT / "sample" / "ant_2017_feb_mar.vectors.npz"
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_CACHE = Path(os.environ.get("TEST_EMBEDDING_CACHE", ROOT / ".cache" / "test-embeddings.sqlite"))


def clean_environ() -> dict[str, str]:
    """The environment without the service's settings (nor a crash point): what servers in tests start with."""
    stray = {crash_points.ENVIRONMENT, "PROMETHEUS_MULTIPROC_DIR"}
    return {k: v for k, v in os.environ.items() if k not in DEFAULTS and k not in stray}


# create_app reads the environment: a shell's API_KEYS, PROFILES or RATE_LIMIT must not change the results.
_kept = clean_environ()
os.environ.clear()
os.environ.update(_kept)


@contextmanager
def serving_on_loopback(handler: type[http.server.BaseHTTPRequestHandler], site_of: Callable[[int], Any]) -> Iterator[Any]:
    """A threaded HTTP server with `handler` on a free 127.0.0.1 port, stopped at the end; yields its `site`
    (made from the port, reachable by the handler as `self.server.site`)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads, server.block_on_close = True, False
    server.site = site_of(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session", autouse=True)
def seeded_test_cache() -> Path:
    """The shared test embedding cache, holding the shipped vectors of the sample."""
    TEST_CACHE.parent.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(TEST_CACHE)
    try:
        cache.seed(SAMPLE_VECTORS, DEFAULT_MODEL)
    finally:
        cache.close()
    return TEST_CACHE


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    return E5Embedder()


@pytest.fixture(scope="session")
def sample_rows() -> list[dict]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def sample_by_id(sample_rows) -> dict[str, dict]:
    return {row["id"]: row for row in sample_rows}


def make_engine(data_dir: Path, e5: E5Embedder, **kwargs) -> Engine:
    TEST_CACHE.parent.mkdir(parents=True, exist_ok=True)
    return Engine(data_dir, embedder=e5, embedding_cache=TEST_CACHE, **kwargs)


@pytest.fixture
def engine(tmp_path, e5) -> Engine:
    return make_engine(tmp_path / "data", e5)


@pytest.fixture
def app(engine):
    return create_app({"TESTING": True, "DATA_DIR": str(engine.data_dir), "RATE_LIMIT": "", "ALLOW_LOCAL_WRITES": 1},
                      engine=engine)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def sample_engine(tmp_path_factory, e5, sample_rows) -> Engine:
    """An engine holding the whole bundled sample corpus (read-only for the tests that use it)."""
    engine = make_engine(tmp_path_factory.mktemp("sample") / "data", e5)
    articles = [validate_article(row) for row in sample_rows]
    for start in range(0, len(articles), 256):
        engine.upsert(articles[start : start + 256])
    engine.rebuild()
    return engine


@pytest.fixture
def few(sample_rows) -> list[dict]:
    """Twelve real Arabic sport articles from the sample (related to each other), as JSON objects."""
    return [dict(row) for row in sample_rows if row["section"] == "sport"][:12]


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL server for the session (skipped where PostgreSQL or psycopg is missing,
    unless REQUIRE_POSTGRES=1, as CI sets: there a missing server fails)."""
    from tests.postgres_server import PostgresServer, postgres_bin

    missing = "PostgreSQL is not installed" if postgres_bin() is None else None
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        missing = missing or "psycopg is not installed (requirements-scale.txt)"
    if missing:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def database_url(postgres_server) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request, tmp_path) -> str:
    """Where a store lives, once for each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "s.sqlite")
    return request.getfixturevalue("database_url")


@pytest.fixture(params=["sqlite", "postgres"])
def bucket_store(request, tmp_path):
    """Where a rate limiter keeps its buckets, once for each backend: a SQLite file, then a PostgreSQL table."""
    if request.param == "sqlite":
        from index.store.sqlite_buckets import SqliteBuckets

        return SqliteBuckets(tmp_path / "limits.sqlite")
    from index.store.pg_store import PostgresStore

    return PostgresStore(request.getfixturevalue("database_url")).bucket_table()


@pytest.fixture
def open_test_store(store_location):
    """Opens (or reopens) the store at `store_location`; every store opened is closed after the test."""
    from index.store.factory import open_store

    opened = []

    def open_it():
        opened.append(open_store(store_location))
        return opened[-1]

    yield open_it
    for store in opened:
        store.close()


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    """Terminate a server process, and kill it if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

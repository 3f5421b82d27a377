"""Issue #26, "Hardening, round two": the shared rate limit, the cost of expanding text, drafts and
the disk, a full disk. Each test here failed before its fix.

Real parts: SQLite files, PostgreSQL (tests/postgres_server.py), server processes on 127.0.0.1, a
real full disk (a small tmpfs).
"""
from __future__ import annotations

import errno
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from index.embedding.models import MAX_TEXT_CHARS
from index.records.article import MAX_BODY
from index.text.lexical import words_of
from index.text.normalize import MAX_NORMALIZED_CHARS, nfkc_at_most, normalize
from index.text.overlap import fingerprint
from service.rate_limit import RateLimiter, parse_rate

from .conftest import ROOT, SAMPLE_VECTORS, TEST_CACHE
from .test_concurrency import GUNICORN, cli, request, service_env, worker_pids, write_jsonl
from .test_production import post
from .test_server import free_port


def serve_prod_threads() -> str:
    """The threads a worker of `make serve-prod` runs (the Makefile's `--threads`)."""
    return re.search(r"--threads (\d+)", (ROOT / "Makefile").read_text()).group(1)


@contextmanager
def production_server(env: dict[str, str], port: int, log_path: Path) -> Iterator[None]:
    """gunicorn as `make serve-prod` starts it (2 workers, its threads) on 127.0.0.1:`port`, until ready."""
    with open(log_path, "w") as log:
        server = subprocess.Popen([str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                                   "--threads", serve_prod_threads(),
                                   "--timeout", "120", "service.wsgi:app"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while request(port, "GET", "/readyz")[0] != 200 or len(worker_pids(server.pid)) < 2:
                assert server.poll() is None, f"gunicorn exited with {server.returncode}: {log_path.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "gunicorn not ready after 120 s"
                time.sleep(0.2)
            yield
        finally:
            server.terminate()
            server.wait(timeout=30)

# -- 3. the shared rate limit admits no more than its rate ------------------------------------------

# One process of the rate-limit test: threads spend one limiter's tokens until `end`; prints how many
# requests it let through, and when its first request started and its last one ended.
SPENDER = """
import json, sys, threading, time
from pathlib import Path
from service.rate_limit import RateLimiter, parse_rate
location, rate, start, end, threads = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
if location.startswith("postgresql://"):
    from index.store.pg_store import PostgresStore
    buckets = PostgresStore(location).bucket_table()
else:
    from index.store.sqlite_buckets import SqliteBuckets
    buckets = SqliteBuckets(Path(location))
limiter = RateLimiter(*parse_rate(rate), buckets)
admitted, first, last, lock = [0], [], [], threading.Lock()
def spend():
    while time.time() < start:
        time.sleep(0.001)
    while True:
        began = time.time()
        if began >= end:
            return
        wait = limiter.take("one-client")
        with lock:
            first.append(began)
            last.append(time.time())
            admitted[0] += 0 if wait else 1
workers = [threading.Thread(target=spend) for _ in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
print(json.dumps({"admitted": admitted[0], "first": min(first), "last": max(last), "takes": len(first)}))
"""


def spend_concurrently(location: str, rate: str, processes: int, threads: int, seconds: float) -> tuple[int, float, int]:
    """Processes x threads spending one client's tokens for `seconds`: (admitted, elapsed, takes)."""
    start = time.time() + 3  # every process has opened the limiter by then
    runs = [subprocess.Popen([sys.executable, "-c", SPENDER, location, rate, str(start), str(start + seconds),
                              str(threads)], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    results = [json.loads(run.communicate(timeout=60 + seconds)[0]) for run in runs]
    assert all(run.returncode == 0 for run in runs)
    elapsed = max(r["last"] for r in results) - min(r["first"] for r in results)
    return sum(r["admitted"] for r in results), elapsed, sum(r["takes"] for r in results)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_clients_get_no_more_than_burst_plus_refill(tmp_path, backend, request):
    location = str(tmp_path / "limits.sqlite") if backend == "sqlite" else request.getfixturevalue("database_url")
    admitted, elapsed, takes = spend_concurrently(location, "50/second", processes=3, threads=8, seconds=4)
    assert takes > admitted  # the limit was reached: most requests were refused
    assert admitted <= 50 + 50 * elapsed + 1, (admitted, elapsed, takes)


def test_a_bucket_clock_never_moves_backwards(bucket_store):
    """A request whose time was read before another's (or on a machine whose clock is behind) must not
    set the bucket's clock back: the seconds in between would be refilled twice."""
    limiter = RateLimiter(*parse_rate("2/second"), bucket_store)
    assert [limiter.take("a", now=10.0), limiter.take("a", now=10.0)] == [0.0, 0.0]
    assert limiter.take("a", now=9.0) > 0  # empty, and its time is behind the bucket's
    assert limiter.take("a", now=10.0) == pytest.approx(0.5)  # still empty: 10.0 - 9.0 is not refilled


def test_the_production_server_admits_60_a_minute_to_32_concurrent_clients(tmp_path, few):
    """The issue's check: `make serve-prod` (gunicorn, 2 workers) at RATE_LIMIT=60/minute,
    32 concurrent clients for 5 s (it let 78 through in 10 s, 127 in 20 s)."""
    data_dir, port = tmp_path / "data", free_port()
    env = service_env(data_dir, RATE_LIMIT="60/minute")
    ingested = cli(env, "ingest", str(write_jsonl(tmp_path / "few.jsonl", few[:3])), "--vectors", str(SAMPLE_VECTORS))
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    draft = {"headline": few[0]["headline"]}  # one text: embedded once, then cheap
    with production_server(env, port, tmp_path / "gunicorn.log"):
        statuses: list[int] = []
        times: list[float] = []
        lock = threading.Lock()
        start, end = time.time() + 0.5, time.time() + 5.5

        def client() -> None:
            while time.time() < start:
                time.sleep(0.001)
            while (began := time.time()) < end:
                status = request(port, "POST", "/v1/duplicates", draft)[0]
                with lock:
                    statuses.append(status)
                    times.extend((began, time.time()))

        clients = [threading.Thread(target=client) for _ in range(32)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=120)
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    elapsed = max(times) - min(times)
    assert 429 in statuses and statuses.count(200) <= 60 + elapsed / 60 * 60 + 1, (statuses.count(200), elapsed)


# -- 4. a text NFKC expands costs no more than the longest plain one ---------------------------------

EXPANDING = "\ufdfa" * 200_000  # the longest body the API accepts, of U+FDFA: 3.6 million letters after NFKC


def test_normalisation_stops_at_the_longest_body():
    normalized = nfkc_at_most(EXPANDING)
    assert len(normalized) == MAX_NORMALIZED_CHARS == MAX_BODY
    assert unicodedata.normalize("NFKC", EXPANDING).startswith(normalized)
    assert len(normalize(EXPANDING)) <= MAX_NORMALIZED_CHARS
    fingerprinted = fingerprint("x", EXPANDING)
    assert len(fingerprinted.body_shingles) <= MAX_NORMALIZED_CHARS // 18 * 4  # 4 words each 18 letters
    assert len(words_of("x", EXPANDING)) <= MAX_NORMALIZED_CHARS // 18 * 4


@pytest.mark.parametrize("text", ["كلمة " * 40_000, "e\u0301" * 100_000, "\ufdfa" * 11_000 + "ب" * 189_000,
                                  "ب" * 11_111 + "\u0301" * 40 + "ب" * 1000, "Ａ" * 200_000])
def test_normalisation_of_what_the_api_accepts_is_unchanged(text):
    """Texts up to the longest body, normalised in growing prefixes (composing marks at a cut too),
    are normalised exactly as a whole, when NFKC leaves them no longer than the limit (a guard of the
    fix above: it passed before it too)."""
    whole = unicodedata.normalize("NFKC", text)
    assert nfkc_at_most(text) == whole[:MAX_NORMALIZED_CHARS]
    if len(whole) <= MAX_NORMALIZED_CHARS:
        assert nfkc_at_most(text) == whole


def test_the_model_counts_tokens_of_one_window_of_text_at_most(e5, monkeypatch):
    counted: list[int] = []
    count = e5._count
    monkeypatch.setattr(e5, "_count", lambda text: counted.append(len(text)) or count(text))
    fitted = e5.fit(EXPANDING)
    assert e5.tokens(fitted) <= e5.max_tokens and max(counted) <= MAX_TEXT_CHARS  # was 147,456


def test_a_compare_of_two_expanding_bodies_is_answered(client):
    response = post(client, "/v1/compare", {"a": {"headline": "أ", "body": EXPANDING},
                                            "b": {"headline": "ب", "body": EXPANDING}})
    assert response.status_code == 200 and response.get_json()["relation"]


# -- 5. drafts do not grow the disk ----------------------------------------------------------------


def cached_vectors() -> int:
    with sqlite3.connect(TEST_CACHE) as conn:
        return conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]


def test_drafts_are_not_written_to_the_embedding_cache_articles_are(client, engine, few):
    post(client, "/v1/articles", {"articles": few[:3]})
    before = cached_vectors()
    for n in range(2):
        draft = {"headline": f"مسودة جديدة {uuid.uuid4().hex}", "body": f"نص المسودة رقم {n} {uuid.uuid4().hex}"}
        for path in ("/v1/similar", "/v1/duplicates"):  # the second asks the process's memory
            assert post(client, path, draft).status_code == 200
        assert post(client, "/v1/compare", {"a": draft, "b": {"headline": f"أخرى {uuid.uuid4().hex}"}}).status_code == 200
    assert cached_vectors() == before
    assert engine.embedding.embed_article(draft["headline"], draft["body"]) is not None
    article = {**few[3], "id": "new-article", "headline": f"مقال جديد {uuid.uuid4().hex}"}
    assert post(client, "/v1/articles", article).status_code == 200
    assert cached_vectors() == before + 1  # an article's vector is kept for the rebuilds


# -- 9. a full disk ----------------------------------------------------------------------------------


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on `folder` (skips the test where mounting is not allowed)."""
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small disk needs root (mount -t tmpfs)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             check=False, capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the disk of `folder` with one file, to the last byte."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_a_full_disk_is_507_drafts_still_answered_and_writes_resume(tmp_path, few):
    with small_disk(tmp_path / "disk", "16m") as disk:
        data_dir, port = disk / "data", free_port()
        # The embedding cache and the rate limit's file are on the full disk too.
        env = service_env(data_dir, RATE_LIMIT="60/minute", EMBEDDING_CACHE=str(data_dir / "embeddings.sqlite"))
        stored = cli(env, "ingest", str(write_jsonl(tmp_path / "few.jsonl", few[:3])), "--vectors", str(SAMPLE_VECTORS))
        assert stored.returncode == 0, stored.stderr[-3000:]
        # A long body past the lead: the embedded text (headline and lead) is the sample's, its vector cached.
        big = {**few[3], "id": "big", "body": few[3]["body"] + " " + "كلمة أخرى " * 19_000}
        with production_server(env, port, tmp_path / "gunicorn.log"):
            acknowledged = request(port, "POST", "/v1/articles", {**few[4], "id": "before-full"})
            assert acknowledged[0] == 200, acknowledged
            filler = fill(disk)
            refused = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            refused.request("POST", "/v1/articles", json.dumps(big).encode(), {"Content-Type": "application/json"})
            response = refused.getresponse()
            error = json.loads(response.read())["error"]
            assert response.status == 507 and error["code"] == "disk_full", (response.status, error)
            assert "disk" in error["message"] and int(response.headers["Retry-After"]) > 0
            refused.close()
            draft = {"headline": f"مسودة {uuid.uuid4().hex}", "body": few[5]["body"]}
            assert request(port, "POST", "/v1/similar", draft)[0] == 200  # drafts need no disk
            assert request(port, "GET", "/v1/articles/before-full")[0] == 200
            filler.unlink()
            assert request(port, "POST", "/v1/articles", big)[0] == 200  # writes resume once there is room
            listed = request(port, "GET", "/v1/articles?limit=100")[1]
            assert {i["id"] for i in listed["items"]} == {r["id"] for r in few[:3]} | {"before-full", "big"}


def test_postgresql_disk_full_is_507_naming_the_cause():
    """PostgreSQL's disk_full (SQLSTATE 53100) is answered as SQLite's: 507, Retry-After, not 503 unavailable."""
    import psycopg.errors
    from flask import Flask

    from service.errors import register_error_handlers

    app = Flask(__name__)
    register_error_handlers(app)

    @app.post("/write")
    def write():
        raise psycopg.errors.DiskFull("could not extend file: No space left on device")

    response = app.test_client().post("/write")
    assert response.status_code == 507 and response.headers["Retry-After"]
    assert response.get_json()["error"]["code"] == "disk_full"

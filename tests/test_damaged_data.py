"""Hardening, round two (#26): what a careless operator does to a data folder, each test failing
before its fix. Real server processes (`python -m service serve` on 127.0.0.1), real files removed,
damaged or made unwritable.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from index.records.article import validate_article
from index.search.article_words import ARTICLE_WORDS
from index.store import snapshots
from index.text.lexical import FREQUENCIES

from .conftest import ROOT, TEST_CACHE, clean_environ, make_engine
from .test_server import call, free_port

GARBAGE = b"this is not a SQLite database, nor anything else" * 100


def prepared(data: Path, e5, rows: list[dict], rebuilds: int = 1) -> None:
    """A data folder holding `rows`, indexed by `rebuilds` rebuilds (each a version), answers warmed."""
    engine = make_engine(data, e5)
    engine.upsert([validate_article(r) for r in rows])
    for _ in range(rebuilds):
        engine.rebuild()
    engine.store.close()


def server_env(data: Path, **overrides: str) -> dict[str, str]:
    return {**clean_environ(), "DATA_DIR": str(data), "EMBEDDING_CACHE": str(TEST_CACHE), "PORT": str(free_port()),
            "ALLOW_LOCAL_WRITES": "1", "JSON_LOGS": "0", **overrides}


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """`python -m service serve`, its stderr in `log`; yields its base URL once it answers, and fails
    at once (with what it printed) if it exits instead."""
    with open(log, "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "service", "serve"], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited with {process.returncode}: {log.read_text()[-3000:]}")
            try:
                call(base + "/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "serve did not answer within 90 s"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def send(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    return call(url, body, method)


def remove_store(data: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data / 'articles.sqlite'}{suffix}").unlink(missing_ok=True)


# -- 6. a store removed is not a healthy empty one ------------------------------------------------


def test_a_store_removed_under_a_running_server_refuses_writes_reads_and_readiness(tmp_path, e5, few):
    data, log = tmp_path / "data", tmp_path / "serve.log"
    prepared(data, e5, few[:4])
    with serving(server_env(data), log) as base:
        similar = f"{base}/v1/articles/{few[0]['id']}/similar?min_relatedness=0"
        assert send("GET", similar)[0] == 200  # now kept in memory and in the answer file
        (data / "articles.sqlite").unlink()
        status, error = send("POST", f"{base}/v1/articles", {**few[5], "id": "after-removal"})
        assert status == 503 and error["error"]["code"] == "store_unavailable"
        assert str(data / "articles.sqlite") in error["error"]["message"] and "removed" in error["error"]["message"]
        status, ready = send("GET", f"{base}/readyz")
        assert status == 503 and ready["ready"] is False and "articles.sqlite" in ready["reason"]
        assert send("GET", similar)[0] == 503  # never an answer kept from the store that is gone
        assert send("DELETE", f"{base}/v1/articles/{few[1]['id']}")[0] == 503
        status, health = send("GET", f"{base}/healthz")
        assert status == 200 and health["status"] == "store_unusable" and "articles.sqlite" in health["problem"]
    errors = [line for line in log.read_text().splitlines() if " ERROR " in line and "articles.sqlite" in line]
    assert errors, log.read_text()[-3000:]


def test_after_a_restart_without_its_store_the_server_is_not_ready_and_answers_nothing(tmp_path, e5, few):
    data, log = tmp_path / "data", tmp_path / "serve.log"
    prepared(data, e5, few[:4])
    with serving(server_env(data), log) as base:
        assert send("GET", f"{base}/v1/articles/{few[0]['id']}/similar")[0] == 200
    remove_store(data)
    with serving(server_env(data), log) as base:
        status, ready = send("GET", f"{base}/readyz")
        assert status == 503 and "articles.sqlite" in ready["reason"] and "rebuild" in ready["reason"]
        status, health = send("GET", f"{base}/healthz")
        assert health["status"] == "store_unusable" and health["articles"] == 0 and health["indexed"] == 4
        assert send("GET", f"{base}/v1/articles/{few[0]['id']}/similar")[0] == 503  # not from answers.sqlite
        status, error = send("POST", f"{base}/v1/articles", few[5])
        assert status == 503 and "articles.sqlite" in error["error"]["message"]
    assert any(" ERROR " in line and "articles.sqlite" in line for line in log.read_text().splitlines())
    # Rebuilding is how an operator accepts the store as it is: then the server is ready again.
    done = subprocess.run([sys.executable, "-m", "service", "rebuild", "--no-warm"], env=server_env(data), cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with serving(server_env(data), log) as base:
        assert send("GET", f"{base}/readyz")[0] == 200


def test_a_store_emptied_by_its_own_deletes_is_still_ready(tmp_path, e5, few):
    engine = make_engine(tmp_path / "data", e5)
    engine.upsert([validate_article(r) for r in few[:2]])
    engine.rebuild()
    engine.load()
    for row in few[:2]:
        engine.delete(row["id"])
    engine.catch_up()
    assert engine.store.count() == 0 and engine.ready and engine.store_problem() is None


# -- 7. a damaged extra file of a version falls back like damaged vectors ----------------------


@pytest.mark.parametrize("damaged", [FREQUENCIES, ARTICLE_WORDS])
def test_serve_falls_back_to_the_older_version_when_an_extra_file_is_damaged(tmp_path, e5, few, damaged):
    data, log = tmp_path / "data", tmp_path / "serve.log"
    prepared(data, e5, few[:4], rebuilds=2)
    root = data / "index"
    older, live = snapshots.versions(root)[-2:]
    assert snapshots.current_version(root) == live
    path = root / live / damaged
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # truncated
    with serving(server_env(data), log) as base:
        _, health = send("GET", f"{base}/healthz")
        assert health["index_version"] == older and health["indexed"] == 4
        assert send("GET", f"{base}/readyz")[0] == 200
        assert send("GET", f"{base}/v1/articles/{few[0]['id']}/similar?min_relatedness=0")[0] == 200
    assert f"{damaged} does not match its checksum" in log.read_text()


def test_a_version_written_before_per_file_checksums_falls_back_when_an_extra_cannot_be_read(tmp_path, e5, few):
    data = tmp_path / "data"
    prepared(data, e5, few[:3], rebuilds=2)
    root = data / "index"
    older, live = snapshots.versions(root)[-2:]
    meta = json.loads((root / live / snapshots.META).read_text())
    meta.pop("files", None)  # as versions written before it
    (root / live / snapshots.META).write_text(json.dumps(meta))
    (root / live / FREQUENCIES).write_bytes(b"not zlib at all")
    engine = make_engine(data, e5)
    engine.load()
    assert engine.live.version.name == older and len(engine.live) == 3


# -- 8. damaged caches are moved aside; a damaged store is one line -----------------------------


def test_damaged_rate_limit_state_and_embedding_cache_are_moved_aside(tmp_path, e5, few):
    data, log = tmp_path / "data", tmp_path / "serve.log"
    prepared(data, e5, few[:3])
    for name in ("limits.sqlite", "embeddings.sqlite"):
        (data / name).write_bytes(GARBAGE)
    env = server_env(data, EMBEDDING_CACHE=str(data / "embeddings.sqlite"), RATE_LIMIT="60/minute")
    with serving(env, log) as base:
        assert send("GET", f"{base}/readyz")[0] == 200
        assert send("POST", f"{base}/v1/duplicates", {"headline": few[0]["headline"]})[0] == 200  # the limiter works
    text = log.read_text()
    for name in ("limits.sqlite", "embeddings.sqlite"):
        aside = list(data.glob(f"{name}.damaged-*"))
        assert len(aside) == 1 and aside[0].read_bytes() == GARBAGE  # kept for a look, never deleted
        assert any(" WARNING " in line and str(data / name) in line and aside[0].name in line
                   for line in text.splitlines()), text[-3000:]


def test_a_damaged_store_refuses_to_start_in_one_line(tmp_path, e5, few):
    data = tmp_path / "data"
    prepared(data, e5, few[:2])
    remove_store(data)
    (data / "articles.sqlite").write_bytes(GARBAGE)
    done = subprocess.run([sys.executable, "-m", "service", "serve"], env=server_env(data), cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith("cannot start: the article store")
    assert str(data / "articles.sqlite") in done.stderr and "damaged" in done.stderr
    assert (data / "articles.sqlite").read_bytes() == GARBAGE  # the source of truth is never replaced


# -- 10. a failed or killed version write leaves nothing that keeps the disk full ---------------

WRITE_UNDER_A_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
import numpy as np
from index.store import snapshots
from index.embedding.models import normalize_rows
from index.ann.faiss_index import VectorIndex
index = VectorIndex(8)
index.upsert(list(range(4000)), normalize_rows(np.random.RandomState(0).randn(4000, 8)))  # 128 KB of vectors
# As a full disk: a file may not grow past 20 KB. SIGXFSZ ignored, the write fails with EFBIG;
# at its default, the process is killed there.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN if sys.argv[2] == "fail" else signal.SIG_DFL)
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
try:
    snapshots.write_snapshot(Path(sys.argv[1]), index, "m", seq=1)
except Exception as exc:
    print("write failed:", type(exc).__name__, exc)
"""


def write_under_a_size_limit(root: Path, outcome: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRITE_UNDER_A_SIZE_LIMIT, str(root), outcome], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=120)


def test_a_version_write_that_fails_removes_its_temporary_folder(tmp_path):
    done = write_under_a_size_limit(tmp_path, "fail")
    assert done.returncode == 0 and "write failed" in done.stdout, done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []  # no version, no pointer, no temporary


def test_a_rebuild_removes_what_a_killed_writer_left_and_keeps_a_running_ones(tmp_path, e5, few):
    data = tmp_path / "data"
    engine = make_engine(data, e5)
    engine.upsert([validate_article(r) for r in few[:3]])
    root = data / "index"
    root.mkdir(parents=True)
    done = write_under_a_size_limit(root, "die")
    assert done.returncode == -signal.SIGXFSZ, (done.returncode, done.stderr[-2000:])
    left = [p.name for p in root.glob(".tmp-*")]
    assert len(left) == 1, left
    running = root / f".tmp-v20000101T000000000000-{os.getpid()}-1"  # this process is alive: it may be writing
    running.mkdir()
    engine.rebuild()
    assert not (root / left[0]).exists() and running.exists()
    assert len(snapshots.versions(root)) == 1


# -- 11. a read-only data folder is one line saying what to fix -----------------------------------


@contextmanager
def read_only_view(folder: Path, view: Path) -> Iterator[Path]:
    """`folder` mounted read-only at `view` (tests run as root, where chmod stops no write); skips
    when this machine does not allow mounts."""
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(view)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {mounted.stderr.strip()}")
    try:
        try:
            (view / "probe").write_bytes(b"")
        except OSError:
            yield view
        else:
            pytest.skip("the read-only mount accepts writes here")
    finally:
        subprocess.run(["umount", str(view)], capture_output=True, check=False)


def test_a_read_only_data_folder_stops_serve_with_one_line(tmp_path, e5, few):
    data = tmp_path / "data"
    prepared(data, e5, few[:2])
    with read_only_view(data, tmp_path / "read-only") as view:
        done = subprocess.run([sys.executable, "-m", "service", "serve"], env=server_env(view), cwd=ROOT,
                              capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"cannot start: DATA_DIR {view} is not writable: Read-only file system"), last

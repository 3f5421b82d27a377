"""Concurrency on one data folder: two writer processes at once, and gunicorn with two workers.

Both tests start real processes the way operations start them (`python -m service ingest|rebuild`,
`gunicorn 'service.wsgi:app'`) over sample articles whose vectors ship with the sample, so nothing
is embedded.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from index.engine import Engine
from service.config import DEFAULTS

from .conftest import ROOT, SAMPLE_VECTORS, TEST_CACHE, stop_process
from .test_hardening import chunked_post
from .test_server import free_port

GUNICORN = Path(sys.executable).with_name("gunicorn")
RATE = 20  # drafts an hour per client, in the gunicorn test (no token comes back during it)


def service_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a service process: this one's minus every service setting, plus the test's."""
    stray = set(DEFAULTS) | {"ALLOW_LOCAL_WRITES", "TRUSTED_PROXIES", "PROMETHEUS_MULTIPROC_DIR"}
    env = {name: value for name, value in os.environ.items() if name not in stray}
    return {**env, "DATA_DIR": str(data_dir), "EMBEDDING_CACHE": str(TEST_CACHE), "ALLOW_LOCAL_WRITES": "1",
            **settings}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    """One request over a fresh connection: (status, JSON or text); status 0 and the error when the
    connection failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read().decode("utf-8", "replace")
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw
    except OSError as exc:
        return 0, repr(exc)
    finally:
        connection.close()


def article_path(article_id: str) -> str:
    return "/v1/articles/" + quote(article_id, safe="")


def worker_pids(master: int) -> set[int]:
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text()
    except OSError:
        return set()
    return {int(pid) for pid in children.split()}


def open_engine(data_dir: Path) -> Engine:
    """A fresh engine on the folder; it embeds nothing (every text of these tests is in the cache)."""
    return Engine(data_dir, embedding_cache=TEST_CACHE)


def close_engine(engine: Engine) -> None:
    engine.store.close()
    engine.cache.close()


@pytest.mark.slow  # two processes ingest 620 sample articles, a reference ingest, a rebuild: ~25 s
def test_two_ingests_at_once_lose_nothing(tmp_path, sample_rows):
    data_dir = tmp_path / "data"
    env = service_env(data_dir)
    # 20 common ids race on the same rows: A stores each with its own text, B with the
    # headline and body of another sample article (already in the vectors file: nothing is embedded).
    common_a = [dict(row) for row in sample_rows[600:620]]
    common_b = [{**dict(other), "id": row["id"]} for row, other in zip(sample_rows[600:620], sample_rows[620:640])]
    rows_a = common_a[:10] + [dict(r) for r in sample_rows[0:300]] + common_a[10:]
    rows_b = common_b[:10] + [dict(r) for r in sample_rows[300:600]] + common_b[10:]
    file_a, file_b = write_jsonl(tmp_path / "a.jsonl", rows_a), write_jsonl(tmp_path / "b.jsonl", rows_b)

    writers = [subprocess.Popen([sys.executable, "-m", "service", "ingest", str(path), "--vectors", str(SAMPLE_VECTORS)],
                                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for path in (file_a, file_b)]
    outputs = []
    try:
        for writer in writers:
            outputs.append(writer.communicate(timeout=300))
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    for writer, (out, err) in zip(writers, outputs):
        assert writer.returncode == 0, f"ingest exited with {writer.returncode}:\n{out[-2000:]}\n{err[-4000:]}"

    expected = {r["id"]: r for r in rows_a + rows_b}
    versions = {row["id"]: [(row["headline"], row["body"])] for row in common_a}
    for row in common_b:
        versions[row["id"]].append((row["headline"], row["body"]))

    def check(engine: Engine) -> None:
        ids = engine.store.all_ids()
        assert len(ids) == len(set(ids)) == len(expected) and set(ids) == set(expected)
        health = engine.health()
        assert health["articles"] == health["indexed"] == len(expected)
        for article_id in expected:
            stored = engine.get(article_id).article
            text = (stored.headline, stored.body)
            # A raced row holds one writer's version whole, never a mix of the two.
            assert text in versions.get(article_id, [text]), article_id
            answer = engine.similar(article_id, duplicates="include", k=10)
            assert answer["article"]["id"] == article_id
            assert article_id not in [item["id"] for item in answer["items"]], article_id
            # The index holds the stored version's vector: the stored text finds the article first
            # (or an article with exactly the same text, at score 1).
            found = engine.similar_to_text(stored.headline, stored.body, duplicates="include", k=1)["items"]
            assert found, f"{article_id}: its own text finds nothing"
            assert found[0]["id"] == article_id or found[0]["score"] >= 0.9999, (article_id, found[0])

    engine = open_engine(data_dir)
    try:
        check(engine)
        winners = [engine.get(article_id).article.to_dict() for article_id in expected]
        raced = {i: {item["id"] for item in engine.similar(i, duplicates="include", k=10)["items"]} for i in expected}
    finally:
        close_engine(engine)
    # The same final articles ingested by one process give the same similar items (a few sample
    # articles have none above the related floor in either case).
    reference_env = service_env(tmp_path / "reference")
    alone = cli(reference_env, "ingest", str(write_jsonl(tmp_path / "winners.jsonl", winners)))
    assert alone.returncode == 0, alone.stderr[-4000:]
    engine = open_engine(tmp_path / "reference")
    try:
        differ = [i for i in expected
                  if raced[i] != {item["id"] for item in engine.similar(i, duplicates="include", k=10)["items"]}]
    finally:
        close_engine(engine)
    assert not differ, f"{len(differ)} articles have other similar items than after one ingest: {differ[:5]}"

    rebuilt = cli(env, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr[-4000:]
    engine = open_engine(data_dir)
    try:
        check(engine)
    finally:
        close_engine(engine)


@pytest.mark.slow  # builds a 500-article folder, then ~10 s of load on two gunicorn workers
def test_gunicorn_two_workers_under_mixed_load(tmp_path, sample_rows):
    data_dir, metrics_dir = tmp_path / "data", tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    # The load runs no rate-limited endpoint; the limit is checked across both workers at the end.
    env = service_env(data_dir, RATE_LIMIT=f"{RATE}/hour", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
                      MAX_CONTENT_LENGTH=str(1024 * 1024))
    stored = [dict(r) for r in sample_rows[0:500]]
    ingested = cli(env, "ingest", str(write_jsonl(tmp_path / "base.jsonl", stored)), "--vectors", str(SAMPLE_VECTORS))
    assert ingested.returncode == 0, ingested.stderr[-4000:]
    rebuilt = cli(env, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr[-4000:]

    written = [dict(r) for r in sample_rows[500:561]]  # in the vectors file: nothing new is embedded
    deleted = {r["id"] for r in written[::10]}
    kept = [r["id"] for r in written if r["id"] not in deleted]
    stored_ids = [r["id"] for r in stored]

    log = open(tmp_path / "gunicorn.log", "w")
    server = subprocess.Popen(
        [str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--timeout", "120",
         "service.wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while request(port, "GET", "/readyz")[0] != 200:
            assert server.poll() is None, f"gunicorn exited with {server.returncode}"
            assert time.monotonic() < deadline, "gunicorn not ready after 120 s"
            time.sleep(0.2)
        while len(worker_pids(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = worker_pids(server.pid)
        assert len(workers) == 2, workers

        failures: list[tuple] = []  # (kind, method, path, status, body)
        counts: dict[str, int] = {}
        lock = threading.Lock()
        visible: list[str] = []  # written, answered 200, never to be deleted
        gone: set[str] = set()  # deletes answered 200
        writer_done = threading.Event()
        stop_at = time.monotonic() + 10

        def record(kind: str, method: str, path: str, status: int, body: object, ok: bool) -> None:
            with lock:
                counts[kind] = counts.get(kind, 0) + 1
                if not ok:
                    failures.append((kind, method, path, status, str(body)[:300]))

        def reader(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(400):
                if writer_done.is_set() or time.monotonic() > stop_at:
                    return
                roll = rng.random()
                with lock:
                    fresh = rng.choice(visible) if visible and roll < 0.3 else None
                    gone_before = set(gone)  # deleted before this request is sent: never offered again
                if fresh is not None:  # a write acknowledged by either worker is visible from both
                    path = article_path(fresh) + ("/similar?k=5" if roll < 0.15 else "")
                    status, body = request(port, "GET", path)
                    record("fresh", "GET", path, status, body, status == 200)
                elif roll < 0.8:
                    path = article_path(rng.choice(stored_ids)) + "/similar?k=5"
                    status, body = request(port, "GET", path)
                    offered = {item["id"] for item in body.get("items", [])} if isinstance(body, dict) else set()
                    record("similar", "GET", path, status, body, status == 200 and not gone_before & offered)
                else:
                    status, body = request(port, "GET", "/healthz")
                    record("healthz", "GET", "/healthz", status, body, status == 200)

        def delete(victim: str) -> None:
            status, body = request(port, "DELETE", article_path(victim))
            with lock:
                ok = status == 200 or (status == 404 and victim in gone)  # deleted before: 404
                if status == 200:
                    gone.add(victim)
            record("delete", "DELETE", victim, status, body, ok)

        def writer() -> None:
            try:
                for n, row in enumerate(written):
                    status, body = request(port, "POST", "/v1/articles", row)
                    record("post", "POST", "/v1/articles", status, body, status == 200)
                    if status == 200 and row["id"] not in deleted:
                        with lock:
                            visible.append(row["id"])
                    if n % 10 == 5:  # delete the ones chosen so far (again for the earlier ones: 404)
                        for victim in [r["id"] for r in written[: n + 1] if r["id"] in deleted]:
                            delete(victim)
                for victim in sorted(deleted):
                    delete(victim)
            finally:
                writer_done.set()

        threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(6)]
        threads.append(threading.Thread(target=writer))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "load threads still running after 120 s"
        assert counts.get("post") == len(written), counts
        assert not failures, f"{len(failures)} failed of {counts}: {failures[:10]}"

        # After the load: every write is visible from both workers, every delete gone from both.
        after: list[tuple] = []
        for article_id in kept:
            for _ in range(20):
                status, body = request(port, "GET", article_path(article_id))
                if status != 200 or body.get("id") != article_id:
                    after.append(("kept", article_id, status, str(body)[:200]))
        for article_id in deleted:
            for _ in range(20):
                status, body = request(port, "GET", article_path(article_id))
                if status != 404:
                    after.append(("deleted", article_id, status, str(body)[:200]))
                status, body = request(port, "GET", article_path(article_id) + "/similar?k=5")
                if status != 404:
                    after.append(("deleted similar", article_id, status, str(body)[:200]))
        for article_id in kept[:10]:
            for _ in range(20):
                status, body = request(port, "GET", article_path(article_id) + "/similar?k=5&duplicates=include")
                if status != 200 or deleted & {item["id"] for item in body.get("items", [])}:
                    after.append(("similar of kept", article_id, status, str(body)[:200]))
        assert not after, f"{len(after)} wrong answers after the load: {after[:10]}"
        for _ in range(20):
            status, health = request(port, "GET", "/healthz")
            assert status == 200 and health["articles"] == health["indexed"] == len(stored) + len(kept), health

        # Nothing crashed or timed out: the same two workers still serve, and both answered requests
        # (prometheus_client writes one file per process that counted one).
        assert worker_pids(server.pid) == workers
        counted = {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("counter_*.db")}
        assert workers <= counted, (workers, counted)
        status, metrics = request(port, "GET", "/metrics")
        assert status == 200 and 'http_requests_total{method="GET",route="/healthz",status="200"}' in metrics

        # One rate limit for the client, whichever worker answers (each kept its own before: 111 of 160).
        draft = {"headline": stored[0]["headline"]}
        statuses = [request(port, "POST", "/v1/duplicates", draft)[0] for _ in range(RATE + 10)]
        assert statuses.count(200) == RATE and statuses.count(429) == 10, statuses

        # A chunked body over MAX_CONTENT_LENGTH is refused whole on gunicorn too (it was cut and stored).
        article = json.dumps({**stored[1], "id": "chunked-over"}, ensure_ascii=False).encode()
        assert chunked_post(f"http://127.0.0.1:{port}", "/v1/articles", [article[:-1], b" " * 2**21, b"}"]) == 413
        assert request(port, "GET", article_path("chunked-over"))[0] == 404
    finally:
        stop_process(server)
        log.close()
    assert "Traceback" not in (tmp_path / "gunicorn.log").read_text(encoding="utf-8", errors="replace")

"""Load test: gunicorn on 127.0.0.1 over an indexed corpus, mixed traffic for a bounded time.

Phases, each for --seconds: GET /healthz only; GET similar only, twice: "popular" picks articles
the way news traffic does (Zipf over every stored id: a few hot stories, a long tail, so the answer
cache helps as in production), "uniform" picks any stored id with equal chance; then a mix of 90%
popular GET similar, 5% ingests (stored articles republished under new ids with a credit line before the
body, so embedded on the fly and linked as near-duplicates) and 5% draft checks (POST
/v1/duplicates, which run the model), after the same mix with GET /healthz in place of GET similar
(its baseline: /healthz under the same model work).
Prints throughput, p50/p99 latency and errors per request type, where the GET similar answers came
from (worker memory, the shared answer file, computed), and the similar/healthz throughput ratios.
The data folder is built beforehand, e.g. by `python -m bench.dedup_eval --keep DIR`; `python -m service
rebuild` on it computes the answers of the newest WARM_ARTICLES articles ahead of requests
(`--no-warm` does not, for the cost of first-time answers).

    python -m bench.load --data DIR [--workers 2] [--clients 8] [--seconds 30] [--k 10]

`--k 6` asks for a block size no rebuild warms, so GET similar answers are computed at the request.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

from bench.serving import free_port

ROOT = Path(__file__).resolve().parents[1]

ZIPF_EXPONENT = 1.0  # page views per article fall roughly as 1/rank



def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    try:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        connection.close()
    return status, time.perf_counter() - started


def run_phase(port: int, clients: int, seconds: float, pick) -> dict[str, list]:
    """`clients` threads send pick() requests until `seconds` have passed (bounded in time)."""
    results: dict[str, list] = defaultdict(list)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            kind, method, path, body = pick(rng)
            status, elapsed = request(port, method, path, body)
            with lock:
                results[kind].append((status, elapsed))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def report(name: str, results: dict[str, list], seconds: float) -> dict[str, float]:
    throughput = {}
    for kind, samples in sorted(results.items()):
        times = sorted(t for _, t in samples)
        errors = sum(1 for s, _ in samples if s != 200)  # a refused write is no fast write
        throughput[kind] = len(samples) / seconds
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(f"{name:8s} {kind:10s} {len(samples):6d} req  {len(samples) / seconds:7.1f} req/s  "
              f"p50 {statistics.median(times) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  errors {errors}")
    return throughput


def answer_sources(port: int) -> dict[str, float]:
    """similar_answers_total by source, summed over the workers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    return {m[0]: float(m[1]) for m in re.findall(r'similar_answers_total\{source="(\w+)"\} (\S+)', text)}


def measured(name: str, port: int, clients: int, seconds: float, pick) -> dict[str, float]:
    """Run and report one phase, with where its GET similar answers came from."""
    before = answer_sources(port)
    throughput = report(name, run_phase(port, clients, seconds, pick), seconds)
    after = answer_sources(port)
    served = {source: after[source] - before.get(source, 0) for source in sorted(after)}
    if any(served.values()):
        print(f"{'':8s} similar answers: " + ", ".join(f"{source} {n:.0f}" for source, n in served.items() if n))
    return throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="an indexed data folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--k", type=int, default=10, help="block size asked for (the pages' is 10, warmed)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()

    port = free_port()
    metrics_dir = tempfile.mkdtemp(prefix="load-metrics-")  # /metrics sums every worker
    env = {**os.environ, "DATA_DIR": args.data, "RATE_LIMIT": "off", "JSON_LOGS": "1",
           "PROMETHEUS_MULTIPROC_DIR": metrics_dir, "ALLOW_LOCAL_WRITES": "1"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
         "--threads", "4", "--timeout", "600", "service.wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if request(port, "GET", "/readyz")[0] == 200:
                break
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with code {server.returncode}; run it by hand to see why")
            time.sleep(0.5)
        with closing(sqlite3.connect(f"file:{Path(args.data) / 'articles.sqlite'}?mode=ro", uri=True)) as db:
            ids = sorted(row[0] for row in db.execute("SELECT id FROM articles"))
        random.Random(0).shuffle(ids)  # popularity has nothing to do with the id
        cumulative = list(itertools.accumulate(1 / rank**ZIPF_EXPONENT for rank in range(1, len(ids) + 1)))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/healthz")
        health = json.loads(connection.getresponse().read())
        connection.close()
        print(f"gunicorn {args.workers} workers x 4 threads, {args.clients} clients, {args.seconds:g} s a phase; "
              f"index: {health['indexed']} articles ({health['index_type']}), model {health['model']}")

        def similar_to(article_id: str) -> tuple:
            return ("similar", "GET", f"/v1/articles/{quote(article_id, safe='')}/similar?k={args.k}", None)

        def popular(rng) -> tuple:
            return similar_to(rng.choices(ids, cum_weights=cumulative)[0])

        def uniform(rng) -> tuple:
            return similar_to(rng.choice(ids))

        counter = iter(range(10**9))

        def republished(rng) -> dict:
            """A stored article republished by another outlet under a new id, with a credit line: a
            real near-duplicate (the kind a newsroom ingests all day) whose text the model must embed."""
            with closing(sqlite3.connect(f"file:{Path(args.data) / 'articles.sqlite'}?mode=ro", uri=True)) as db:
                headline, body = db.execute("SELECT headline, body FROM articles WHERE id = ?", (rng.choice(ids),)).fetchone()
            n = next(counter)
            return {"id": f"load-{os.getpid()}-{n}", "headline": headline, "source": "load-test",
                    "body": f"نقلاً عن وكالة الأنباء ({n}): {body}"}

        def mixed(rng, reads=popular):
            roll = rng.random()
            if roll < 0.05:
                return ("ingest", "POST", "/v1/articles", republished(rng))
            if roll < 0.10:
                return ("draft", "POST", "/v1/duplicates", {
                    "headline": f"مسودة {rng.randrange(10**6)}: وزارة الصحة تعلن عن حملة تطعيم جديدة"})
            return reads(rng)

        def healthz(rng) -> tuple:
            return ("healthz", "GET", "/healthz", None)

        alone = measured("healthz", port, args.clients, args.seconds, healthz)
        hot = measured("popular", port, args.clients, args.seconds, popular)
        cold = measured("uniform", port, args.clients, args.seconds, uniform)
        # The mix with /healthz in place of GET similar: the baseline under the same model work.
        busy = measured("mixed-h", port, args.clients, args.seconds, lambda rng: mixed(rng, healthz))
        both = measured("mixed", port, args.clients, args.seconds, mixed)
        for name, phase, base in (("popular", hot, alone), ("uniform", cold, alone), ("mixed", both, busy)):
            print(f"GET similar ({name}) throughput / GET /healthz throughput ({'mixed' if base is busy else 'alone'}): "
                  f"{phase['similar'] / base['healthz']:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""PostgreSQL against SQLite as the store, same machine, same run: ingest rate, rebuild, first-time
answer, cached answer, over the bundled sample (2,451 articles, their shipped vectors: nothing is
embedded, so the store and the engine's own work are what is timed).

PostgreSQL is a private server this script starts on a loopback port (as the tests do; initdb and
pg_ctl of PostgreSQL 15), with fsync on, as a production server runs.

    python -m bench.store_backends [--articles 2451] [--queries 300]
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from index.engine import Engine
from index.records.article import validate_article
from index.records.options import SimilarOptions
from tests.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz"
SAMPLE_VECTORS = ROOT / "sample" / "ant_2017_feb_mar.vectors.npz"
BATCH = 50  # articles a write (as a CMS pushing its new articles)


def median_ms(call, items) -> float:
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(engine: Engine, articles: list, queries: int) -> dict[str, float]:
    engine.seed_embeddings(SAMPLE_VECTORS)
    started = time.perf_counter()
    for start in range(0, len(articles), BATCH):
        engine.upsert(articles[start : start + BATCH])
    ingest = len(articles) / (time.perf_counter() - started)
    started = time.perf_counter()
    engine.rebuild()
    rebuild = time.perf_counter() - started
    engine.load()
    ids = [a.id for a in articles]
    random.Random(7).shuffle(ids)
    ids = ids[:queries]
    rare = SimilarOptions(k=7, exclude_source="bench-no-such-source")  # computed every time
    first = median_ms(lambda i: engine.fresh_answer(i, rare), ids)
    for i in ids:
        engine.similar(i, k=5)
    cached = median_ms(lambda i: engine.similar(i, k=5), ids)
    health = median_ms(lambda _: engine.store.last_change(), ids)
    return {"ingest articles/s": ingest, "rebuild s": rebuild, "first-time answer ms": first,
            "cached answer ms": cached, "change-log look ms": health}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2451)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        articles = [validate_article(json.loads(line)) for line in f][: args.articles]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["SQLite"] = measure(Engine(Path(folder) / "sqlite"), articles, args.queries)
        with PostgresServer(fsync=True) as server:
            engine = Engine(Path(folder) / "pg", database_url=server.new_database())
            results["PostgreSQL"] = measure(engine, articles, args.queries)
            engine.store.close()
    print(f"{len(articles)} articles (shipped vectors), {args.queries} queries; PostgreSQL 15 on 127.0.0.1")
    print(f"{'':24s} {'SQLite':>10s} {'PostgreSQL':>11s} {'PG/SQLite':>10s}")
    for name in results["SQLite"]:
        s, p = results["SQLite"][name], results["PostgreSQL"][name]
        print(f"{name:24s} {s:10.2f} {p:11.2f} {p / s:10.2f}")


if __name__ == "__main__":
    main()

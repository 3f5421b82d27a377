"""Embedding throughput: our ingest pipeline against calling the embedder directly, same texts.

The pipeline (Engine.upsert) adds text preparation, language detection, the embedding cache, SQLite
and FAISS to the model call; the ratio shows what that costs. Both start cold (empty cache).

    python -m bench.embed_throughput [--n 200]
"""
from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

from index.embedding.models import E5Embedder
from index.engine import Engine
from index.records.article import validate_article

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="articles to embed (default 200)")
    parser.add_argument("--lead-words", type=int, default=100)
    args = parser.parse_args()

    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(args.n), f)]
    articles = [validate_article(r) for r in rows]
    embedder = E5Embedder()

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Path(tmp), embedder=embedder, lead_words=args.lead_words)
        texts = [engine.text_of(a.headline, a.body) for a in articles]
        embedder.encode(texts[:2])  # warm up the engine's threads

        started = time.perf_counter()
        embedder.encode(texts)
        direct = time.perf_counter() - started

        started = time.perf_counter()
        for i in range(0, len(articles), 64):
            engine.upsert(articles[i : i + 64])
        pipeline = time.perf_counter() - started
        assert engine.health()["indexed"] == len(articles)

        started = time.perf_counter()
        engine.upsert(articles)
        warm = time.perf_counter() - started

    n = len(articles)
    print(f"articles: {n} (bundled sample, headline + {args.lead_words}-word lead), model {embedder.name}")
    print(f"direct embedder calls : {n / direct:8.1f} articles/s ({direct:.1f} s)")
    print(f"pipeline, cold cache  : {n / pipeline:8.1f} articles/s ({pipeline:.1f} s)")
    print(f"pipeline, re-ingest   : {n / warm:8.1f} articles/s ({warm:.2f} s, every vector cached)")
    print(f"ratio pipeline/direct : {direct / pipeline:.3f} (1.0 = no overhead)")


if __name__ == "__main__":
    main()

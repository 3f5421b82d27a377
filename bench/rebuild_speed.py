"""Cold against warm rebuild on the same corpus: the embedding cache makes a nightly rebuild of an
unchanged corpus cost reading and indexing, not the model.

Cold: a rebuild with an empty embedding cache (every article embedded). Warm: the same rebuild again.

    python -m bench.rebuild_speed [--limit 500] [--corpus sample|saudinewsnet]
"""
from __future__ import annotations

import argparse
import gzip
import json
import tempfile
from pathlib import Path

from bench.corpora import saudinewsnet
from index.embedding.models import E5Embedder
from index.engine import Engine
from index.records.article import validate_article

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500, help="the first N articles (0: all)")
    parser.add_argument("--corpus", choices=("sample", "saudinewsnet"), default="sample",
                        help="the bundled sample (2,451 articles) or ../shared/data/saudinewsnet (31k)")
    args = parser.parse_args()
    if args.corpus == "saudinewsnet":
        rows = saudinewsnet()
    else:
        with gzip.open(ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz", "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
    rows = rows[: args.limit] if args.limit else rows
    embedder = E5Embedder()
    with tempfile.TemporaryDirectory() as tmp:
        # Ingest through a throw-away cache, so that the rebuild below starts with an empty one.
        loader = Engine(Path(tmp) / "data", embedder=embedder, embedding_cache=Path(tmp) / "ingest-cache.sqlite")
        loader.upsert([validate_article(r) for r in rows])
        engine = Engine(Path(tmp) / "data", embedder=embedder, embedding_cache=Path(tmp) / "cache.sqlite")
        cold = engine.rebuild()
        warm = engine.rebuild()
    print(f"corpus: {len(rows)} articles of {args.corpus}, model {embedder.name}")
    print(f"cold rebuild: {cold.seconds:7.2f} s ({cold.embedded} embedded)")
    print(f"warm rebuild: {warm.seconds:7.2f} s ({warm.embedded} embedded, {warm.cached} from cache)")
    print(f"ratio cold/warm: {cold.seconds / warm.seconds:.0f}x")


if __name__ == "__main__":
    main()

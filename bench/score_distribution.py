"""Where do cosine scores of e5-small-q4 fall, for exact copies, for rewrites, and for the rest?

Indexes the bundled sample (through the embedding cache) and prints, for every article, the score of
its nearest other article, split by whether the two bodies are identical. This is what the first
first relation rule was set from (now index/relations.py, refined with text overlap).

    python -m bench.score_distribution
"""
from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from index.engine import Engine
from index.records.article import validate_article

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with gzip.open(ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    cache = os.environ.get("EMBEDDING_CACHE", str(ROOT / ".cache" / "test-embeddings.sqlite"))
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Path(tmp), embedding_cache=cache)
        engine.upsert([validate_article(r) for r in rows])
        body_of = {r["id"]: r["body"] for r in rows}
        same, other = [], []
        for row in rows:
            top = engine.similar(row["id"], k=1)["items"][0]
            (same if body_of[top["id"]] == row["body"] else other).append(top["score"])
    for name, scores in (("identical bodies", same), ("different bodies", other)):
        if scores:
            q = np.percentile(scores, [1, 5, 50, 95, 99])
            print(f"{name:17s} n={len(scores):5d}  min {min(scores):.4f}  p1 {q[0]:.4f}  p5 {q[1]:.4f}  "
                  f"median {q[2]:.4f}  p95 {q[3]:.4f}  p99 {q[4]:.4f}  max {max(scores):.4f}")
    other = np.array(other)
    for threshold in (0.93, 0.95, 0.97, 0.985):
        print(f"different bodies with top score >= {threshold}: {(other >= threshold).sum()}")


if __name__ == "__main__":
    main()

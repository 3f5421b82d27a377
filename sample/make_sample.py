"""Rebuild the bundled sample corpus from the ANT corpus (../shared/data/ant_v1.1), and its vectors.

Takes every article of February and March 2017 (the densest period: many follow-ups of the same
events) that has both a title and a text, and writes them in the service's article format. Then
embeds each article's text with the default model, as the service would, into the vectors file that
`make run` and the tests seed their embedding cache with.

    python sample/make_sample.py ../shared/data/ant_v1.1/ant_v1.1_jawharafm.jsonl.gz
    python sample/make_sample.py --vectors    # only the vectors, from the bundled sample
"""
from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.embedding.cache import embed_key, write_vectors_file  # noqa: E402
from index.embedding.models import DEFAULT_MODEL, E5Embedder  # noqa: E402
from index.records.article import validate_article  # noqa: E402
from index.text.prepare import DEFAULT_LEAD_WORDS, embedding_text  # noqa: E402

OUT = Path(__file__).with_name("ant_2017_feb_mar.jsonl.gz")
VECTORS = Path(__file__).with_name("ant_2017_feb_mar.vectors.npz")


def to_article(row: dict) -> dict:
    """Map one ANT record to the service's article JSON."""
    return {
        "id": row["docno"],
        "headline": row["title"].strip(),
        "body": row["text"].strip(),
        "url": row["url"],
        "source": row["src"],
        "published_at": row["time"],
        "language": "ar",
        "section": row["cat"],
        "tags": [],
    }


def write_sample(src: str) -> None:
    with gzip.open(src, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    picked = [
        to_article(r)
        for r in rows
        if (r["time"] or "").startswith(("2017-02", "2017-03")) and r["title"] and r["text"]
    ]
    picked.sort(key=lambda a: (a["published_at"], a["id"]))
    # mtime=0 keeps the file byte-identical from one run to the next.
    with gzip.GzipFile(OUT, "wb", mtime=0) as f:
        for article in picked:
            f.write((json.dumps(article, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"{len(picked)} articles -> {OUT}")


def sample_texts(sample: Path = OUT) -> list[str]:
    """What the service embeds for each sample article with the default settings, once each."""
    with gzip.open(sample, "rt", encoding="utf-8") as f:
        articles = [validate_article(json.loads(line)) for line in f]
    return list(dict.fromkeys(embedding_text(a.headline, a.body, DEFAULT_LEAD_WORDS) for a in articles))


def write_vectors() -> None:
    texts = sample_texts()
    embedder, started = E5Embedder(), time.monotonic()
    assert embedder.name == DEFAULT_MODEL
    vectors = []
    for start in range(0, len(texts), 200):
        vectors.append(embedder.encode(texts[start : start + 200]))
        print(f"embedded {start + len(vectors[-1])}/{len(texts)} in {time.monotonic() - started:.0f}s", flush=True)
    keys = [embed_key(embedder.name, t) for t in texts]
    write_vectors_file(VECTORS, embedder.name, keys, np.concatenate(vectors))
    print(f"{len(keys)} vectors ({embedder.name}) -> {VECTORS}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--vectors"]:
        write_sample(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ant_v1.1/ant_v1.1_jawharafm.jsonl.gz")
    write_vectors()

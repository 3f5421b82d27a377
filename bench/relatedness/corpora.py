"""The two corpora of the judged set, each indexed through the engine into a data folder.

- `ant`: the bundled sample (2,451 ANT articles, Jawhara FM, Tunisia, Feb-Mar 2017), with its
  shipped vectors: nothing is embedded.
- `snn`: the first `--snn` SaudiNewsNet articles in the order of its files (14 Saudi outlets, from
  2015-07-21 on), from ../shared/data (research use only: the pool keeps ids and texts of the pairs
  judged, nothing else). Embedded through `--cache`, so a second run embeds nothing.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from bench.corpora import saudinewsnet
from index.article import validate_article
from index.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz"
SAMPLE_VECTORS = ROOT / "sample" / "ant_2017_feb_mar.vectors.npz"


def rows_of(corpus: str, snn_count: int) -> list[dict]:
    if corpus == "ant":
        with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    return saudinewsnet()[:snn_count]


def indexed(corpus: str, data_dir: Path, cache: Path, snn_count: int) -> tuple[Engine, list[dict]]:
    """An engine over the corpus in `data_dir` (built there once), and the corpus's rows."""
    rows = rows_of(corpus, snn_count)
    engine = Engine(data_dir, embedding_cache=cache)
    if engine.store.count() != len(rows):
        if corpus == "ant":
            engine.seed_embeddings(SAMPLE_VECTORS)
        articles = [validate_article(r) for r in rows]
        for start in range(0, len(articles), 500):
            engine.upsert(articles[start : start + 500])
        engine.rebuild()
    engine.load()
    return engine, rows

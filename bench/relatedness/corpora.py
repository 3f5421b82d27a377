"""The two corpora of the judged set, each indexed through the engine into a data folder.

- `ant`: the bundled sample (2,451 ANT articles, Jawhara FM, Tunisia, Feb-Mar 2017), with its
  shipped vectors: nothing is embedded.
- `antfull`: every ANT v1.1 article with a title and a text (10k, Jawhara FM, 2013-2017), from
  ../shared/data: the sample's months and the years around them, so that a story and its
  follow-ups months later are both there. The sample's vectors are reused; the rest embedded.
- `snn`: the first `--snn` SaudiNewsNet articles in the order of its files (14 Saudi outlets, from
  2015-07-21 on), from ../shared/data (research use only: the pool keeps ids and texts of the pairs
  judged, nothing else). Embedded through `--cache`, so a second run embeds nothing.
"""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from bench.corpora import SHARED, saudinewsnet
from index.engine import Engine
from index.records.article import validate_article

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "ant_2017_feb_mar.jsonl.gz"
SAMPLE_VECTORS = ROOT / "sample" / "ant_2017_feb_mar.vectors.npz"


def ant_full() -> list[dict]:
    """Every ANT v1.1 article with a title and a text, in the sample's format (day-first dates made ISO)."""
    from sample.make_sample import to_article

    rows = []
    with gzip.open(SHARED / "ant_v1.1" / "ant_v1.1_jawharafm.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if not (row["title"] or "").strip() or not (row["text"] or "").strip():
                continue
            day = re.fullmatch(r"(\d\d)/(\d\d)/(\d{4})", row["time"] or "")
            if day:
                row["time"] = f"{day[3]}-{day[2]}-{day[1]}T12:00:00+01:00"
            rows.append(to_article(row))
    return sorted(rows, key=lambda a: (a["published_at"], a["id"]))


def rows_of(corpus: str, snn_count: int) -> list[dict]:
    if corpus == "ant":
        with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    if corpus == "antfull":
        return ant_full()
    return saudinewsnet()[:snn_count]


def indexed(corpus: str, data_dir: Path, cache: Path, snn_count: int) -> tuple[Engine, list[dict]]:
    """An engine over the corpus in `data_dir` (built there once), and the corpus's rows."""
    rows = rows_of(corpus, snn_count)
    engine = Engine(data_dir, embedding_cache=cache)
    if engine.store.count() != len(rows):
        if corpus in ("ant", "antfull"):
            engine.seed_embeddings(SAMPLE_VECTORS)
        articles = [validate_article(r) for r in rows]
        for start in range(0, len(articles), 500):
            engine.upsert(articles[start : start + 500])
        engine.rebuild()
    engine.load()
    return engine, rows

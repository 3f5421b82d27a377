"""The systems whose lists are judged: each gives a query article's top `depth` stored ids.

- `product`: GET similar as the engine answers it (`k=depth`, defaults);
- `e5`: plain cosine of the same vectors, no rules (copies included);
- `bm25`: plain lexical "more like this" (the query's rarest words, BM25; copies included);
- `new`: the calibrated ranker (cosine and lexical candidates, ranked by relatedness), with no floor.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable

from index.engine import Engine
from index.records.options import SimilarOptions
from index.text import lexical


def product(engine: Engine, query: str, depth: int) -> list[str]:
    return [item["id"] for item in engine.similar(query, SimilarOptions(k=depth))["items"]]


def e5(engine: Engine, query: str, depth: int) -> list[str]:
    stored = engine.get(query)
    hits = [key for key, _ in engine.live.search(engine.vector(query), depth + 1) if key != stored.key][:depth]
    found = engine.store.get_by_keys(hits)
    return [found[key].article.id for key in hits if key in found]


def bm25(engine: Engine, query: str, depth: int) -> list[str]:
    """FTS5's BM25 over the query's 25 best words by tf-idf (ORed), as Elasticsearch's more_like_this."""
    stored = engine.get(query)
    asked = lexical.lexical_query(lexical.words_of(stored.article.headline, stored.article.body),
                                  engine.live.version.frequencies)
    if not asked.idf:
        return []
    with sqlite3.connect(f"file:{engine.data_dir / 'articles.sqlite'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT rowid FROM lexical WHERE lexical MATCH ? ORDER BY rank LIMIT ?",
                            (" OR ".join(f'"{t}"' for t in asked.idf), depth + 1)).fetchall()
    hits = [key for (key,) in rows if key != stored.key][:depth]
    found = engine.store.get_by_keys(hits)
    return [found[key].article.id for key in hits if key in found]


def new(engine: Engine, query: str, depth: int) -> list[str]:
    """The calibrated block with no floor (`min_relatedness=0`): items by relatedness; `score.py`
    applies floors to it. Relatedness per item in `last_relatedness`."""
    items = engine.similar(query, SimilarOptions(k=depth, min_relatedness=0.0))["items"]
    last_relatedness[:] = [item["relatedness"] for item in items]
    return [item["id"] for item in items]


last_relatedness: list[float | None] = []
SYSTEMS: dict[str, Callable[[Engine, str, int], list[str]]] = {"product": product, "e5": e5, "bm25": bm25, "new": new}

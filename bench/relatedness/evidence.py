"""Does more evidence per candidate lift the block? Cross-validated on the judged pairs.

Each judged pair gets the engine's evidence (`relatedness.FEATURES`, over the corpora the pool was
searched in) and the extra evidence the issue suggested or that is cheap to compute:
- local scaling / hubness: the cosine minus the query's (`cos-rq`) or the candidate's (`cos-rc`) mean
  cosine to its 10 nearest (CSLS's two terms);
- ranks: the candidate's rank among the query's neighbours by cosine and by the word search (log);
- agreement: both lists hold it in their top 10 (the issue's "78-100% related where they agree");
- Rocchio: the cosine to the query moved toward its 5 nearest (pseudo-relevance feedback);
- headline cosine: the two headlines embedded alone (e5, 1,925 headlines, about 40 s).

A logistic model (and gradient boosting on the engine's evidence) is fitted 5 times, each time on
four fifths of the queries, and scores the fifth it did not see. Per query the judged candidates
are ranked by the score, and a 5-item block keeps those above a floor: the table gives, for the
best floor reaching precision 0.85 (and 0.90), the related items per block. Optimistic for every row
alike (only judged candidates compete), so the rows compare with each other, not with score.py.

    python -m bench.relatedness.evidence [--work /tmp/relatedness-11k]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.relatedness.corpora import indexed
from bench.relatedness.pool import JUDGEMENTS, POOL, load_jsonl
from index.text import lexical

DEPTH = 300  # ranks beyond it count as DEPTH


def pair_evidence(work: Path, snn: int) -> list[dict]:
    """Every judged pair with the engine's evidence and the extra evidence above."""
    pool = {p["query"]: p for p in load_jsonl(POOL)}
    by_corpus: dict[str, list[dict]] = {}
    for j in load_jsonl(JUDGEMENTS):
        by_corpus.setdefault(pool[j["query"]]["corpus"], []).append(j)
    out = []
    for corpus, judged in by_corpus.items():
        engine, rows = indexed(corpus, work / corpus, work / "embeddings.sqlite", snn)
        headline = {r["id"]: r["headline"] for r in rows}
        ids = sorted({j["query"] for j in judged} | {j["candidate"] for j in judged})
        headlines = dict(zip(ids, engine.embedder.encode([headline[i] for i in ids])))
        live, queries = engine.live, {}
        spread = {}

        def mean_nearest(key: int) -> float:
            if key not in spread:
                spread[key] = float(np.mean([c for k, c in live.search(live.vector(key), 11) if k != key][:10]))
            return spread[key]

        for j in judged:
            if j["query"] not in queries:
                query = engine.search.query_of(engine.get(j["query"]))
                near = [k for k, _ in live.search(query.vector, DEPTH + 1) if k != query.key]
                asked = lexical.lexical_query(list(query.words), live.version.frequencies)
                worded = [k for k, _ in engine.store.words.search(asked, DEPTH + 1) if k != query.key]
                moved = query.vector + np.mean([live.vector(k) for k in near[:5]], axis=0)
                queries[j["query"]] = (query, near, worded, moved / np.linalg.norm(moved))
            query, near, worded, moved = queries[j["query"]]
            key = engine.get(j["candidate"]).key
            cosine_rank = near.index(key) if key in near else DEPTH
            word_rank = worded.index(key) if key in worded else DEPTH
            out.append({**j, "x": engine.search.evidence_for(query, [key])[0], "rq": mean_nearest(query.key),
                        "rc": mean_nearest(key), "cosine_rank": cosine_rank, "word_rank": word_rank,
                        "rocchio": float(moved @ live.vector(key)),
                        "headlines": float(headlines[j["query"]] @ headlines[j["candidate"]])})
        engine.store.close()
    return out


def evidence_sets(rows: list[dict]) -> dict[str, np.ndarray]:
    x = np.array([r["x"] for r in rows])
    cosine = x[:, :1]
    column = {name: np.array([r[name] for r in rows], dtype=float)[:, None] for name in
              ("rq", "rc", "cosine_rank", "word_rank", "rocchio", "headlines")}
    ranks = np.log1p(np.hstack([column["cosine_rank"], column["word_rank"]]))
    agree = ((column["cosine_rank"] < 10) & (column["word_rank"] < 10)).astype(float)
    return {"cosine alone": cosine, "engine's evidence": x,
            "+ local scaling (CSLS terms)": np.hstack([x, cosine - column["rq"], cosine - column["rc"]]),
            "+ ranks in both lists": np.hstack([x, ranks]), "+ both lists agree": np.hstack([x, agree]),
            "+ Rocchio cosine": np.hstack([x, column["rocchio"]]),
            "+ headline cosine": np.hstack([x, column["headlines"]]),
            "+ all of the above": np.hstack([x, cosine - column["rq"], cosine - column["rc"], ranks, agree,
                                             column["rocchio"], column["headlines"]])}


def out_of_fold(x: np.ndarray, related: np.ndarray, groups: np.ndarray, boosted: bool = False) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    p = np.zeros(len(related))
    for train, test in GroupKFold(5).split(x, related, groups):
        mean, scale = x[train].mean(0), x[train].std(0) + 1e-9
        model = (HistGradientBoostingClassifier(max_depth=3, max_iter=150, learning_rate=0.05) if boosted
                 else LogisticRegression(max_iter=2000))
        model.fit((x[train] - mean) / scale, related[train])
        p[test] = model.predict_proba((x[test] - mean) / scale)[:, 1]
    return p


def related_per_block(p: np.ndarray, related: np.ndarray, groups: np.ndarray, precision: float) -> float:
    """Related items per 5-item block at the floor giving the most of them with this precision."""
    best = 0.0
    queries = sorted(set(groups))
    for floor in np.arange(0.05, 0.96, 0.01):
        shown = hits = 0
        for q in queries:
            idx = np.where(groups == q)[0]
            kept = [i for i in idx[np.argsort(-p[idx])] if p[i] >= floor][:5]
            shown, hits = shown + len(kept), hits + int(related[kept].sum())
        if shown and hits / shown >= precision:
            best = max(best, hits / len(queries))
    return best


def main() -> None:
    from sklearn.metrics import roc_auc_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/relatedness-11k"))
    parser.add_argument("--snn", type=int, default=11384)
    args = parser.parse_args()
    rows = pair_evidence(args.work, args.snn)
    related = np.array([r["label"] >= 1 for r in rows])
    groups = np.array([r["query"] for r in rows])
    ceiling = np.mean([min(5, related[groups == q].sum()) for q in sorted(set(groups))])
    print(f"{len(rows)} judged pairs, {len(set(groups))} queries; every related judged: {ceiling:.2f} a block")
    print(f"{'evidence':32s} {'AUC':>6s} {'rel/blk @0.85':>14s} {'@0.90':>6s}")
    runs = [(name, x, False) for name, x in evidence_sets(rows).items()]
    runs.append(("engine's, gradient boosting", np.array([r["x"] for r in rows]), True))
    for name, x, boosted in runs:
        p = out_of_fold(x, related, groups, boosted)
        print(f"{name:32s} {roc_auc_score(related, p):6.3f} {related_per_block(p, related, groups, 0.85):14.2f}"
              f" {related_per_block(p, related, groups, 0.90):6.2f}")


if __name__ == "__main__":
    main()

"""Pool the top 10 of several systems for the judged queries, and write the pairs still unjudged
into batches for blind judges (texts and a pair number only: never which system proposed a pair).

Queries: per corpus, `--queries` articles at random (fixed seed) with a body of 40 words or more,
a tenth of them chosen among the most isolated (lowest nearest-neighbour cosine: rare topics, with
perhaps nothing related). Half of the queries fit, half test (by a hash of the id).

    python -m bench.relatedness.pool --systems product e5 bm25 [--snn 11384] [--queries 40]

The SaudiNewsNet queries were picked among the first 3,000 articles, and first pooled there; the
pool now holds their lists over the first 11,384 (`--snn 11384`), where version 1's lists came from
the code of that version (commit 6b9ee31) over the same articles.

Writes bench/relatedness/pool.jsonl (each query's lists, per system; merged with earlier runs) and
/tmp/judge/batch-*.jsonl (the new pairs). `score.py` reads both with judgements.jsonl.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

from bench.relatedness.corpora import indexed
from bench.relatedness.systems import SYSTEMS, last_relatedness
from index.engine import Engine
from index.text.prepare import lead

HERE = Path(__file__).resolve().parent
POOL, JUDGEMENTS = HERE / "pool.jsonl", HERE / "judgements.jsonl"
DEPTH = 10
JUDGE_WORDS = 90
# The `ant` queries are the sample's (Feb-Mar 2017); `antfull` ones come from the other months and
# years of ANT, so their related stories are often months apart.
SAMPLE_MONTHS = ("2017-02", "2017-03")


def half(article_id: str) -> str:
    return "test" if hashlib.sha1(article_id.encode()).digest()[0] % 2 else "fit"


def pick_queries(engine: Engine, rows: list[dict], count: int, seed: int = 15) -> list[str]:
    eligible = [r["id"] for r in rows if len((r.get("body") or "").split()) >= 40
                and not (r.get("published_at") or "").startswith(SAMPLE_MONTHS)]
    rng = random.Random(seed)
    isolated_count = max(1, count // 10)
    probe = rng.sample(eligible, min(len(eligible), 400))
    nearest = {i: engine.live.search(engine.vector(i), 2)[1][1] for i in probe}
    isolated = sorted(probe, key=nearest.get)[:isolated_count]
    rest = [i for i in rng.sample(eligible, len(eligible)) if i not in isolated]
    return isolated + rest[: count - isolated_count]


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")] if path.exists() else []


def judge_text(row: dict) -> str:
    return f"{row['headline']}\n{lead(row.get('body') or '', JUDGE_WORDS)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", default=["product", "e5", "bm25"], choices=sorted(SYSTEMS))
    parser.add_argument("--snn", type=int, default=11384,
                        help="the first N SaudiNewsNet articles (11,384: the crawl's first six days)")
    parser.add_argument("--queries", type=int, default=40, help="queries per corpus")
    parser.add_argument("--work", type=Path, default=Path("/tmp/relatedness"), help="data folders, embedding cache")
    parser.add_argument("--cache", type=Path, help="embedding cache (default: in --work)")
    parser.add_argument("--corpora", nargs="+", default=["ant", "snn", "antfull"], choices=["ant", "snn", "antfull"])
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    pool = {(p["corpus"], p["query"]): p for p in load_jsonl(POOL)}
    judged = {(j["query"], j["candidate"]) for j in load_jsonl(JUDGEMENTS)}
    new_pairs: dict[tuple[str, str], tuple[dict, dict]] = {}
    for corpus in args.corpora:
        engine, rows = indexed(corpus, args.work / corpus, args.cache or args.work / "embeddings.sqlite", args.snn)
        by_id = {r["id"]: r for r in rows}
        queries = [q for (c, q) in pool if c == corpus] or pick_queries(engine, rows, args.queries)
        for query in queries:
            entry = pool.setdefault((corpus, query), {"corpus": corpus, "query": query, "half": half(query),
                                                      "systems": {}})
            for name in args.systems:
                entry["systems"][name] = SYSTEMS[name](engine, query, DEPTH)
                if name == "new":
                    entry["relatedness"] = list(last_relatedness)
                for candidate in entry["systems"][name]:
                    if (query, candidate) not in judged:
                        new_pairs[(query, candidate)] = (by_id[query], by_id[candidate])
        engine.store.close()
    with POOL.open("w", encoding="utf-8") as f:
        for entry in pool.values():
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    write_batches(new_pairs, args.batches)
    print(f"{len(pool)} queries; {len(new_pairs)} pairs to judge in /tmp/judge")


def write_batches(pairs: dict[tuple[str, str], tuple[dict, dict]], batches: int) -> None:
    """Pairs grouped by query (a judge reads each query once), queries dealt to batches, candidates
    shuffled within a query. A judge sees a pair number and two texts; the numbers' ids are kept
    apart, in /tmp/judge-keys."""
    by_query: dict[str, list] = {}
    for (query, candidate), texts in pairs.items():
        by_query.setdefault(query, []).append((candidate, texts))
    out, keys = Path("/tmp/judge"), Path("/tmp/judge-keys")
    out.mkdir(exist_ok=True)
    keys.mkdir(exist_ok=True)
    start = len(list(keys.glob("*.jsonl"))) * 100_000  # numbers unique across runs
    files = [open(out / f"batch-{start // 100_000 + 1}-{i + 1}.jsonl", "w", encoding="utf-8") for i in range(batches)]
    rng = random.Random(3)
    with open(keys / f"keys-{start // 100_000 + 1}.jsonl", "w", encoding="utf-8") as key_file:
        for n, (query, candidates) in enumerate(sorted(by_query.items())):
            rng.shuffle(candidates)
            for m, (candidate, (a, b)) in enumerate(candidates):
                number = start + 1000 * n + m
                files[n % batches].write(json.dumps({"pair": number, "a": judge_text(a), "b": judge_text(b)},
                                                    ensure_ascii=False) + "\n")
                key_file.write(json.dumps({"pair": number, "query": query, "candidate": candidate}) + "\n")
    for f in files:
        f.close()


if __name__ == "__main__":
    main()

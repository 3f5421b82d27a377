"""Version 1's lists for the pool: GET similar?k=10 as the code of commit 6b9ee31 answers it, over the
same SaudiNewsNet articles, put into pool.jsonl as `product`, their unjudged pairs into judge batches.

    git worktree add /tmp/v1 6b9ee31 && SHARED_DATA=../shared/data \
        python -m bench.relatedness.version1 --worktree /tmp/v1 [--snn 11384] [--cache FILE]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.relatedness.corpora import rows_of
from bench.relatedness.pool import JUDGEMENTS, POOL, load_jsonl, write_batches

# Run inside the worktree, so that `index` is version 1's.
LISTS = """
import json, sys
from pathlib import Path
from bench.corpora import saudinewsnet
from index.records.article import validate_article
from index.engine import Engine
n, folder, cache, queries = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4])
rows = saudinewsnet()[:n]
engine = Engine(folder, embedding_cache=cache)
if engine.store.count() != len(rows):
    articles = [validate_article(r) for r in rows]
    for start in range(0, len(articles), 500):
        engine.upsert(articles[start : start + 500])
    engine.rebuild()
engine.load()
print(json.dumps({q: [i["id"] for i in engine.similar(q, k=10)["items"]] for q in queries}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worktree", type=Path, required=True, help="a checkout of commit 6b9ee31")
    parser.add_argument("--snn", type=int, default=11384)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/relatedness/embeddings.sqlite"))
    args = parser.parse_args()
    pool = load_jsonl(POOL)
    queries = [p["query"] for p in pool if p["corpus"] == "snn"]
    folder = Path(f"/tmp/relatedness-v1/snn-{args.snn}")
    out = subprocess.run([sys.executable, "-c", LISTS, str(args.snn), str(folder), str(args.cache), json.dumps(queries)],
                         cwd=args.worktree, check=True, capture_output=True, text=True).stdout
    lists = json.loads(out.strip().splitlines()[-1])
    judged = {(j["query"], j["candidate"]) for j in load_jsonl(JUDGEMENTS)}
    by_id = {r["id"]: r for r in rows_of("snn", args.snn)}
    pairs = {}
    for entry in pool:
        if entry["corpus"] == "snn":
            entry["systems"]["product"] = lists[entry["query"]]
            pairs.update({(entry["query"], c): (by_id[entry["query"]], by_id[c])
                          for c in lists[entry["query"]] if (entry["query"], c) not in judged})
    with POOL.open("w", encoding="utf-8") as f:
        for entry in pool:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    write_batches(pairs, 2)
    print(f"{len(pairs)} pairs of version 1 to judge in /tmp/judge")


if __name__ == "__main__":
    main()

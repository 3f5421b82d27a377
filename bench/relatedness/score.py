"""Score each system's 5-item blocks on the judged pairs: precision of the items shown (judged 1 or
2), related items per block, nDCG@5 (gains 2/1/0, ideal from every judged pair of the query), the
share of empty blocks, and items shown but never judged (counted unrelated).

- `product`, `e5`, `bm25`: the first 5 of their pooled lists (a block is always full);
- `new`: the first 5 of its pooled list whose relatedness reaches the floor (the calibration's, or
  each of `--floors`); `--choose` prints the lowest floor reaching `--target` precision on the fit half.

    python -m bench.relatedness.score [--half test] [--floors 0.3 0.4 0.5] [--choose --target 0.85]
"""
from __future__ import annotations

import argparse
import math

from bench.relatedness.pool import JUDGEMENTS, POOL, load_jsonl
from index.embedding.models import DEFAULT_MODEL
from index.relatedness.model import load_calibration

BLOCK = 5


def block(entry: dict, system: str, floor: float | None) -> list[str]:
    ids = entry["systems"].get(system, [])
    if system == "new":
        ids = [i for i, r in zip(ids, entry["relatedness"]) if r is not None and r >= floor]
    return ids[:BLOCK]


def dcg(gains: list[int]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def metrics(pool: list[dict], labels: dict, system: str, floor: float | None = None) -> dict:
    shown = related = empty = unjudged = 0
    ndcgs = []
    for entry in pool:
        q = entry["query"]
        ids = block(entry, system, floor)
        gains = [labels.get((q, c), 0) for c in ids]
        unjudged += sum((q, c) not in labels for c in ids)
        shown += len(ids)
        related += sum(g >= 1 for g in gains)
        empty += not ids
        ideal = sorted((g for (qq, _), g in labels.items() if qq == q), reverse=True)[:BLOCK]
        ndcgs.append(dcg(gains) / dcg(ideal) if dcg(ideal) else 1.0 * (not ids))
    n = len(pool)
    return {"queries": n, "shown": shown, "precision": related / shown if shown else float("nan"),
            "related_per_block": related / n, "ndcg@5": sum(ndcgs) / n, "empty": empty / n, "unjudged": unjudged}


def row(name: str, m: dict) -> str:
    return (f"{name:22s} {m['queries']:4d} {m['shown']:6d} {m['precision']:9.3f} {m['related_per_block']:8.2f}"
            f" {m['ndcg@5']:7.3f} {m['empty']:6.2f} {m['unjudged']:8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("fit", "test", "all"), default="test")
    parser.add_argument("--floors", type=float, nargs="*", default=[])
    parser.add_argument("--choose", action="store_true")
    parser.add_argument("--target", type=float, default=0.85)
    args = parser.parse_args()
    labels = {(j["query"], j["candidate"]): j["label"] for j in load_jsonl(JUDGEMENTS)}
    pool = [p for p in load_jsonl(POOL) if args.half == "all" or p["half"] == args.half]
    print(f"half: {args.half}; {len(labels)} judged pairs")
    print(f"{'system':22s} {'q':>4s} {'shown':>6s} {'precision':>9s} {'rel/blk':>8s} {'nDCG@5':>7s} {'empty':>6s} {'unjudged':>8s}")
    for system in ("product", "e5", "bm25"):
        print(row(system, metrics(pool, labels, system)))
    related = [sum(g >= 1 for (q, _), g in labels.items() if q == p["query"]) for p in pool]
    print(f"{'(every related judged)':22s} {len(pool):4d} {'':6s} {'':9s} {sum(min(BLOCK, r) for r in related) / len(pool):8.2f}"
          f" {'':7s} {sum(r == 0 for r in related) / len(pool):6.2f}   <- the most any 5-item block could show")
    if any("new" in p["systems"] for p in pool):
        cal = load_calibration(DEFAULT_MODEL)
        floors = args.floors or ([cal.floor] if cal else [])
        if args.choose:
            floors = [f / 100 for f in range(5, 96, 5)]
        for floor in floors:
            print(row(f"new, floor {floor:.2f}", metrics(pool, labels, "new", floor)))
        if args.choose:
            good = [f for f in floors if metrics(pool, labels, "new", f)["precision"] >= args.target]
            print(f"lowest floor with precision >= {args.target}: {min(good) if good else None}")


if __name__ == "__main__":
    main()

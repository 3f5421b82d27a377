"""The query path in-process: a first-time similar answer (no answer cache) against the FAISS search
alone, in the same run, over DATA_DIR (default ./data, filled by `make run`).

Two passes over the same articles: the first with this process's candidate rows empty (each
neighbour read from the store), the second with them kept (as in a server that has run a while).

    python -m bench.query_path [--queries 300] [--k 7]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

from index.engine import Engine
from index.records.options import SimilarOptions

ROOT = Path(__file__).resolve().parents[1]


def per_call_ms(call, items) -> list[float]:
    times = []
    for item in items:
        started = time.thread_time()
        call(item)
        times.append((time.thread_time() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=7)
    args = parser.parse_args()
    engine = Engine(Path(os.environ.get("DATA_DIR", ROOT / "data")))
    engine.load()
    ids = engine.store.newest_ids(10**9)
    random.Random(7).shuffle(ids)
    ids = ids[: args.queries]
    options = SimilarOptions(k=args.k, exclude_source="bench-no-such-source")  # as a page's rare option set
    vectors = [engine.vector(i) for i in ids]
    depth = 2 * args.k + 11  # what the first search of a plain answer asks FAISS for
    search = per_call_ms(lambda v: engine.live.search(v, depth), vectors)
    cold = per_call_ms(lambda i: engine.fresh_answer(i, options), ids)
    warm = per_call_ms(lambda i: engine.fresh_answer(i, options), ids)
    base = statistics.median(search)
    print(f"index: {len(engine.live)} articles ({engine.live.kind}); {len(ids)} queries, k={args.k}")
    for name, times in (("FAISS search alone", search), ("answer, rows read", cold), ("answer, rows kept", warm)):
        print(f"{name:20s} median {statistics.median(times):6.2f} ms   p90 {sorted(times)[int(0.9 * len(times))]:6.2f} ms"
              f"   median/search {statistics.median(times) / base:5.1f}x")


if __name__ == "__main__":
    main()

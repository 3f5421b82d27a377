"""The query path in-process: a first-time similar answer (no answer cache) against the FAISS search
alone, in the same run, over DATA_DIR (default ./data, filled by `make run`).

Two passes over the same articles, after one over others (a server that has answered a while: its
code paths and word tables warm): the first with this process's candidate rows emptied (each neighbour
read from the store), the second with them kept. Then the parts every first-time answer does, each
alone on the same articles: the query's words, the two searches (FAISS and the word index), reading
the candidates' rows from the store, and presenting the k items shown (their leads read, the why): what
is left of an answer beside them is the per-candidate work (relation, evidence, filters, ranking).

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
from index.search.neighbours import Query, Shown
from index.search.present import similar_items
from index.search.query import LEXICAL_DEPTH, SimilarSearch
from index.text.terms import content_keys

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
    others, ids = ids[args.queries : 2 * args.queries], ids[: args.queries]
    options = SimilarOptions(k=args.k, exclude_source="bench-no-such-source")  # as a page's rare option set
    vectors = [engine.vector(i) for i in ids]
    depth = 2 * args.k + 11  # what the first search of a plain answer asks FAISS for
    search = per_call_ms(lambda v: engine.live.search(v, depth), vectors)
    per_call_ms(lambda i: engine.fresh_answer(i, options), others)
    engine.search.rows.forget(None)
    cold = per_call_ms(lambda i: engine.fresh_answer(i, options), ids)
    warm = per_call_ms(lambda i: engine.fresh_answer(i, options), ids)
    base = statistics.median(search)
    print(f"index: {len(engine.live)} articles ({engine.live.kind}); {len(ids)} queries, k={args.k}")
    for name, times in (("FAISS search alone", search), ("answer, rows read", cold), ("answer, rows kept", warm)):
        print(f"{name:28s} median {statistics.median(times):6.2f} ms   p90 {sorted(times)[int(0.9 * len(times))]:6.2f} ms"
              f"   median/search {statistics.median(times) / base:5.1f}x")
    print("the parts every first-time answer does, each alone (ms):   median    mean")
    for name, times in parts(engine, ids, options, depth).items():
        print(f"  {name:54s} {statistics.median(times):6.2f}  {statistics.mean(times):6.2f}")


def parts(engine: Engine, ids: list[str], options: SimilarOptions, depth: int) -> dict[str, list[float]]:
    """Each part of a first-time answer timed alone over the same articles (see the module's docstring)."""
    search = engine.search
    queries = [search.query_of(search.stored(i)) for i in ids]
    answers = [search.items(q, options)[0] for q in queries]
    words = [q.asked(search.live.version.frequencies).asked for q in queries]
    hits = [[key for key, _ in search.live.search(q.vector, depth)] for q in queries]
    candidates = [h + [key for key, _ in search.store.words.search(w, LEXICAL_DEPTH + 1)] for h, w in zip(hits, words)]
    shown = list(zip(queries, answers))
    content_keys.cache_clear()  # an item's words are kept by its text: time them as first met (their tokens' keys stay kept)
    timed = {
        "the query's words": per_call_ms(lambda i: search.query_of(search.stored(i)).asked(search.live.version.frequencies), ids),
        "FAISS search": per_call_ms(lambda q: search.live.search(q.vector, depth), queries),
        "word search": per_call_ms(lambda w: search.store.words.search(w, LEXICAL_DEPTH + 1), words),
        "candidates' rows (store)": per_call_ms(lambda keys: search.store.get_by_keys(keys, body_chars=0), candidates),
        "k items: leads and why": per_call_ms(lambda qa: present(search, *qa), shown),
    }
    timed["sum of the parts"] = [sum(times) for times in zip(*timed.values())]
    print(f"  ({sum(bool(a) for a in answers)} of {len(answers)} answers show an item, "
          f"{sum(len(a) for a in answers) / len(answers):.1f} items on average)")
    return timed


def present(search: SimilarSearch, query: Query, shown: list[Shown]) -> None:
    """What the items shown cost beyond finding them: their leads read, and what they share with the query."""
    search.with_leads([s.neighbour for s in shown])
    similar_items(query, shown)


if __name__ == "__main__":
    main()

"""Near-duplicate detection on SaudiNewsNet: 31k Arabic articles, 14 outlets, wire stories republished.

Indexes the corpus through the engine (duplicate detection and story grouping on), then measures:
- recall on silver pairs: articles of *different outlets* with the same normalised headline (4+ words)
  or the same normalised body opening (first 200 characters): the same wire story republished;
  "rule recall" asks whether the relation rule calls the pair a (near-)duplicate, "story recall"
  whether the system, with FAISS neighbours as its only candidates, put them in one story;
- a sample of predicted pairs that share neither headline nor opening, printed for a human to judge
  (the precision check: these are the pairs the silver labels say nothing about);
- the time to ingest and rebuild with duplicate detection on (vectors from the evaluation cache;
  run bench/related_floor.py-style warm-up first, or pay the model's time once).

    python -m bench.dedup_eval [--limit N] [--sample 30]
"""
from __future__ import annotations

import argparse
import collections
import itertools
import random
import tempfile
import time
from pathlib import Path

from bench.corpora import saudinewsnet
from bench.related_floor import CACHE
from index.engine import Engine
from index.records.article import validate_article
from index.relatedness.relations import DUPLICATES, relate
from index.text.normalize import normalize


def silver_pairs(rows: list[dict]) -> set[tuple[str, str]]:
    """Cross-outlet pairs that share a normalised headline (4+ words) or body opening."""
    by_key: dict[str, list[dict]] = collections.defaultdict(list)
    for row in rows:
        title = normalize(row["headline"])
        if len(title.split()) >= 4:
            by_key["t:" + title].append(row)
        opening = normalize(row["body"])[:200]
        if len(opening) == 200:
            by_key["b:" + opening].append(row)
    pairs = set()
    for group in by_key.values():
        for a, b in itertools.combinations(group, 2):
            if a["source"] != b["source"]:
                pairs.add(tuple(sorted((a["id"], b["id"]))))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N articles (0: all)")
    parser.add_argument("--sample", type=int, default=30, help="predicted pairs to print for judging")
    parser.add_argument("--keep", default=None, help="build the data folder here and keep it (for bench/load.py)")
    args = parser.parse_args()

    rows = saudinewsnet()
    if args.limit:
        rows = rows[: args.limit]
    articles = [validate_article(r) for r in rows]
    by_id = {r["id"]: r for r in rows}

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Path(args.keep or tmp), embedding_cache=CACHE)
        started = time.perf_counter()
        for start in range(0, len(articles), 500):
            engine.upsert(articles[start : start + 500])
        ingest_seconds = time.perf_counter() - started
        summary = engine.rebuild()
        print(f"SaudiNewsNet: {len(articles)} articles; ingest with duplicate linking {ingest_seconds:.0f} s "
              f"({len(articles) / ingest_seconds:.0f} articles/s, vectors cached: {summary.embedded} embedded); "
              f"rebuild with boilerplate learning and regrouping {summary.seconds:.0f} s")
        print(f"boilerplate shingles (in >= 20 articles): {len(engine.live.version.common)}")

        stored = {r["id"]: engine.get(r["id"]) for r in rows}
        stories = collections.Counter(s.story_id for s in stored.values())
        sizes = collections.Counter(min(n, 10) for n in stories.values() if n > 1)
        print(f"stories with 2+ articles: {sum(sizes.values())} holding {sum(n for n in stories.values() if n > 1)} "
              f"articles; sizes (10 = 10+): {dict(sorted(sizes.items()))}")

        silver = silver_pairs(rows)
        rule_hits = story_hits = 0
        misses = []
        for a, b in silver:
            fa, fb = stored[a].fingerprint, stored[b].fingerprint
            score = float(engine.vector(a) @ engine.vector(b))
            relation = relate(fa, fb, score, engine.live.version.common)
            rule_hits += relation.relation in DUPLICATES
            same_story = stored[a].story_id == stored[b].story_id
            story_hits += same_story
            if not same_story:
                misses.append((relation, a, b))
        print(f"silver pairs (cross-outlet, same headline or opening): {len(silver)}")
        print(f"  rule recall  {rule_hits / len(silver):.3f}  (relation is duplicate/near_duplicate)")
        print(f"  story recall {story_hits / len(silver):.3f}  (put in one story via FAISS candidates)")
        reasons = collections.Counter(m[0].relation for m in misses)
        print(f"  missed pairs by relation: {dict(reasons)}")

        # Predicted pairs: cross-outlet pairs in one story that the rule calls (near-)duplicates.
        # Those in the silver set are confirmed; the rest are the ones to judge by eye.
        predicted: collections.Counter = collections.Counter()
        confirmed: collections.Counter = collections.Counter()
        unlabelled = []
        for members in (ids for story, ids in _members(stored).items() if len(ids) > 1):
            for a, b in itertools.combinations(members, 2):
                if by_id[a]["source"] == by_id[b]["source"]:
                    continue
                relation = relate(stored[a].fingerprint, stored[b].fingerprint, 0.0, engine.live.version.common)
                if relation.relation not in DUPLICATES:
                    continue
                predicted[relation.relation] += 1
                if tuple(sorted((a, b))) in silver:
                    confirmed[relation.relation] += 1
                else:
                    unlabelled.append((relation, a, b))
        for name in DUPLICATES:
            share = confirmed[name] / predicted[name] if predicted[name] else float("nan")
            print(f"predicted cross-outlet {name} pairs: {predicted[name]}, {confirmed[name]} in the silver set "
                  f"(precision lower bound {share:.3f}; the rest is judged from the sample below)")
        print(f"predicted cross-outlet (near-)duplicate pairs outside the silver set: {len(unlabelled)}")
        rng = random.Random(5)
        for relation, a, b in rng.sample(unlabelled, min(args.sample, len(unlabelled))):
            print(f"--- {relation.relation} overlap {relation.overlap:.2f}: {by_id[a]['source']} / {by_id[b]['source']}")
            print("  A:", by_id[a]["headline"][:90], "|", by_id[a]["body"][:160].replace("\n", " "))
            print("  B:", by_id[b]["headline"][:90], "|", by_id[b]["body"][:160].replace("\n", " "))
        for relation, a, b in misses[:10]:
            print(f"=== missed ({relation.relation}, overlap {relation.overlap:.2f}, score {relation.score:.3f})")
            print("  A:", by_id[a]["source"], by_id[a]["headline"][:80], "|", by_id[a]["body"][:120].replace("\n", " "))
            print("  B:", by_id[b]["source"], by_id[b]["headline"][:80], "|", by_id[b]["body"][:120].replace("\n", " "))


def _members(stored: dict) -> dict[str, list[str]]:
    members: dict[str, list[str]] = collections.defaultdict(list)
    for article_id, s in stored.items():
        members[s.story_id].append(article_id)
    return members


if __name__ == "__main__":
    main()

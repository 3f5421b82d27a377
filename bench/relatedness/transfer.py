"""Does relatedness carry over to news it was never fitted on? Leave one corpus out.

Each judged pair gets its evidence from the engine over its own corpus (`Engine.judged`, the code
`python -m service calibrate` runs). For each feature set a calibration is fitted on the pairs of
one group of corpora (`calibrate.fit_calibration`: floor chosen out of fold there, for `--target`
precision) and applied unchanged to the other group: "ANT -> SNN" fits on Jawhara FM (the sample
and the rest of ANT v1.1), tests on SaudiNewsNet's 14 outlets. In-corpus rows fit on a group's
`fit` half of queries and test on its `test` half. Blocks hold the 5 best judged candidates at or
above the floor (only judged candidates compete: optimistic alike for every row; `score.py` scores
the product's own blocks).

    python -m bench.relatedness.transfer [--work /tmp/relatedness] [--target 0.85]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.relatedness.fit import judged_by_corpus, pooled
from bench.relatedness.pool import POOL, load_jsonl
from index.calibrate import Judged, auc, blocks, fit_calibration
from index.embedding.models import DEFAULT_MODEL
from index.relatedness.model import Calibration

GROUPS = {"ANT": ("ant", "antfull"), "SNN": ("snn",)}
FEATURE_SETS = {
    "cosine": ("cosine",),
    "cosine + words": ("cosine", "shared_words", "query_headline_words", "candidate_headline_words"),
    "engine before (cos, words, days, section)": ("cosine", "shared_words", "query_headline_words",
                                                  "candidate_headline_words", "days_apart", "same_section"),
    "cosine_z": ("cosine_z",),
    "cosine_z + words": ("cosine_z", "shared_words", "query_headline_words", "candidate_headline_words"),
    "cosine_z + words + days<=7": ("cosine_z", "shared_words", "query_headline_words", "candidate_headline_words",
                                   "days_apart"),
}


def subset(judged: Judged, keep: np.ndarray) -> Judged:
    return Judged(*(getattr(judged, name)[keep] for name in Judged.__dataclass_fields__))


def scored(cal: Calibration, judged: Judged) -> np.ndarray:
    """Relatedness as the query path gives it: the calibration's, nothing under its gate."""
    return np.where(judged.query_z >= cal.gate_z, cal.relatedness(judged.evidence), 0.0)


def line(name: str, cal: Calibration, test: Judged) -> str:
    related = test.labels >= 1
    p = scored(cal, test)
    b = blocks(p, related, test.queries, cal.floor)
    return (f"  {name:44s} {auc(p, related):5.3f} {cal.floor:5.2f} {b.shown:5d} {b.precision:5.3f}"
            f" {b.related_per_block:5.2f} {b.share_of_ceiling:5.0%} {b.empty / b.queries:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/relatedness"))
    parser.add_argument("--snn", type=int, default=11384)
    parser.add_argument("--target", type=float, default=0.85)
    args = parser.parse_args()
    parts = judged_by_corpus(tuple(c for group in GROUPS.values() for c in group), args.work, args.snn)
    groups = {name: pooled([parts[c] for c in corpora if c in parts]) for name, corpora in GROUPS.items()}
    half = {p["query"]: p["half"] for p in load_jsonl(POOL)}
    splits = [(f"{a} -> {b}", groups[a], groups[b]) for a in GROUPS for b in GROUPS if a != b]
    for name, judged in groups.items():
        halves = np.array([half[q] for q in judged.queries])
        splits.append((f"{name} fit half -> {name} test half", subset(judged, halves == "fit"),
                       subset(judged, halves == "test")))
    print(f"blocks of 5; floor chosen out of fold where fitted, for precision {args.target}")
    print(f"  {'evidence':44s} {'AUC':>5s} {'floor':>5s} {'shown':>5s} {'prec':>5s} {'rel/b':>5s} {'ceil':>5s} {'empty':>5s}")
    for title, fit, test in splits:
        print(f"{title} ({len(np.unique(fit.queries))} -> {len(np.unique(test.queries))} queries)")
        for name, features in FEATURE_SETS.items():
            print(line(name, fit_calibration(DEFAULT_MODEL, fit, features, args.target), test))


if __name__ == "__main__":
    main()

"""Fit the default embedder's shipped calibration (index/relatedness/calibration/<model>.json) on the judged pairs
of every corpus, through the code `python -m service calibrate` runs (`Engine.judged`,
`calibrate.fit_calibration`): the evidence of each pair is read over its own corpus's index.

    python -m bench.relatedness.fit [--corpora ant antfull snn] [--features cosine_z ...] [--write]

Prints the fit's out-of-fold figures (queries held out five at a time); `--write` replaces the shipped file.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.relatedness.corpora import indexed
from bench.relatedness.pool import JUDGEMENTS, POOL, load_jsonl
from index.calibrate import DEFAULT_FEATURES, Judged, fit_calibration
from index.embedding.models import DEFAULT_MODEL
from index.relatedness.model import FEATURES, calibration_path

CORPORA = ("ant", "antfull", "snn")


def judged_by_corpus(corpora: tuple[str, ...], work: Path, snn: int) -> dict[str, Judged]:
    """Each corpus's judged pairs with their evidence over that corpus's index (built in `work` once)."""
    corpus_of = {p["query"]: p["corpus"] for p in load_jsonl(POOL)}
    pairs: dict[str, list[tuple[str, str, int]]] = {}
    for j in load_jsonl(JUDGEMENTS):
        corpus = corpus_of.get(j["query"])
        if corpus in corpora:
            pairs.setdefault(corpus, []).append((j["query"], j["candidate"], j["label"]))
    found = {}
    for corpus, judged in sorted(pairs.items()):
        engine, _ = indexed(corpus, work / corpus, work / "embeddings.sqlite", snn)
        found[corpus] = engine.judged(judged)
        engine.store.close()
    return found


def pooled(parts: list[Judged]) -> Judged:
    return Judged(*(np.concatenate([getattr(p, name) for p in parts]) for name in Judged.__dataclass_fields__))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=CORPORA)
    parser.add_argument("--features", nargs="+", default=list(DEFAULT_FEATURES), choices=FEATURES)
    parser.add_argument("--target", type=float, default=0.85)
    parser.add_argument("--work", type=Path, default=Path("/tmp/relatedness"))
    parser.add_argument("--snn", type=int, default=11384)
    parser.add_argument("--write", action="store_true", help="replace the shipped calibration file")
    args = parser.parse_args()
    parts = judged_by_corpus(tuple(args.corpora), args.work, args.snn)
    source = "judged pairs of " + ", ".join(f"{c} ({len(j.labels)})" for c, j in parts.items()) + " (bench/relatedness)"
    cal = fit_calibration(DEFAULT_MODEL, pooled(list(parts.values())), tuple(args.features), args.target, source)
    print(", ".join(f"{n} {w:+.2f}" for n, w in zip(cal.features, cal.weights))
          + f"; floor {cal.floor}, same event {cal.same_event:.3f}, gate {cal.gate_z} spreads; {cal.figures}")
    if args.write:
        path = calibration_path(DEFAULT_MODEL)
        path.write_text(json.dumps(cal.to_json(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Fit the relatedness model of the default embedder on the judged pairs of the fit half, and write
its calibration file (index/calibration/<model>.json).

Evidence comes from the engine itself (`SimilarSearch.evidence_for`), so what is fitted is what the
query path computes. A pair counts as related when judged 1 or 2. The floor shown items must reach
is chosen by `score.py --choose` on the fit half's blocks, then written here with `--floor`.

    python bench/relatedness/fit.py [--snn 3000] [--floor F]

The calibration in the repository was fitted with `--snn 3000` (the corpus its judged pairs were
first pooled from): evidence depends on the corpus's document frequencies.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.relatedness.corpora import indexed  # noqa: E402
from bench.relatedness.pool import JUDGEMENTS, POOL, load_jsonl  # noqa: E402
from index.embedders import DEFAULT_MODEL  # noqa: E402
from index.relatedness import FEATURES, Calibration, calibration_path, load_calibration  # noqa: E402

GATE_PERCENTILE = 1  # the cosine gate lets this share (%) of the related pairs of the fit half go
SAME_EVENT_PRECISION = 0.7  # "same event" in `why` when at least this share of pairs so scored were judged 2


def judged_evidence(snn: int, work: Path, cache: Path | None) -> list[dict]:
    """Each judged pair with its half, label and evidence row."""
    pool = {p["query"]: p for p in load_jsonl(POOL)}
    rows = []
    by_corpus: dict[str, list[dict]] = {}
    for j in load_jsonl(JUDGEMENTS):
        by_corpus.setdefault(pool[j["query"]]["corpus"], []).append(j)
    for corpus, judged in by_corpus.items():
        engine, _ = indexed(corpus, work / corpus, cache or work / "embeddings.sqlite", snn)
        for j in judged:
            query = engine.search.query_of(engine.get(j["query"]))
            evidence = engine.search.evidence_for(query, [engine.get(j["candidate"]).key])
            rows.append({**j, "half": pool[j["query"]]["half"], "x": evidence[0]})
    return rows


def fit(rows: list[dict]) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    train = [r for r in rows if r["half"] == "fit"]
    x = np.array([r["x"] for r in train])
    y = np.array([r["label"] >= 1 for r in train])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    weights, bias = model.coef_[0], float(model.intercept_[0])
    cal = Calibration(DEFAULT_MODEL, weights, mean, scale, bias, floor=0.5, same_event=1.0, cosine_gate=-1.0,
                      source=f"{len(train)} judged pairs of the fit half (bench/relatedness)")
    p = cal.relatedness(x)
    order = np.argsort(-p)
    same = np.array([r["label"] == 2 for r in train])[order]
    share = np.cumsum(same) / np.arange(1, len(same) + 1)
    reaching = [i for i in range(len(share)) if share[i] >= SAME_EVENT_PRECISION and i >= 9]
    same_event = float(p[order][reaching[-1]]) if reaching else 1.0
    return with_floor(Calibration(**{**cal.__dict__, "same_event": same_event}), 0.5, x, y)


def with_floor(cal: Calibration, floor: float, x: np.ndarray, related: np.ndarray) -> Calibration:
    """The calibration with this floor, and its cosine gate: the lowest cosine at which a candidate
    with the best of every other evidence seen could still reach the floor, raised to the cosine
    that 99% of the pairs judged related reach (articles below it never enter an answer, which keeps
    the answers a write makes stale few; see `index/answers.py`)."""
    best = np.where(cal.weights > 0, x.max(axis=0), x.min(axis=0))
    gate = 1.0
    for cosine in np.arange(1.0, 0.0, -0.005):
        row = best.copy()
        row[0] = cosine
        if cal.relatedness(row[None])[0] < floor:
            break
        gate = float(cosine)
    gate = max(gate, float(np.floor(np.percentile(x[related, 0], GATE_PERCENTILE) * 100) / 100))
    return Calibration(**{**cal.__dict__, "floor": floor, "cosine_gate": round(gate, 3)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snn", type=int, default=3000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/relatedness"))
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--floor", type=float, help="keep the fitted weights, set this floor")
    args = parser.parse_args()
    rows = judged_evidence(args.snn, args.work, args.cache)
    x = np.array([r["x"] for r in rows if r["half"] == "fit"])
    related = np.array([r["label"] >= 1 for r in rows if r["half"] == "fit"])
    if args.floor is not None:
        cal = with_floor(load_calibration(DEFAULT_MODEL), args.floor, x, related)
    else:
        cal = fit(rows)
    path = calibration_path(DEFAULT_MODEL)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(cal.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"{path}: " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(FEATURES, cal.weights))
          + f"; floor {cal.floor}, same event {cal.same_event:.3f}, cosine gate {cal.cosine_gate}")


if __name__ == "__main__":
    main()

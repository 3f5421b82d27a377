"""How two articles relate: `duplicate`, `near_duplicate`, `related`, and why (score, overlap).

The text compared is the body when both articles have one, else the headline:
- duplicate: the same text after normalisation (headlines may differ);
- near_duplicate: text reuse, at least NEAR_DUPLICATE_OVERLAP of the smaller text's shingles
  (common boilerplate shingles ignored) appear in the other;
  a headline compared alone that is itself common (a label such as "كاريكاتير") is no text reuse;
- related: no text reuse, but an embedding score at or above RELATED_FLOOR.
Below the floor two articles are `unrelated`: the similar-stories answer leaves them out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text.overlap import EMPTY, Fingerprint, containment, containments, without, without_common

# Measured (docs/measurements.md). Overlap: bench/dedup_eval.py on SaudiNewsNet, where wire
# copies across outlets have overlap >= 0.69 in 95% of cases and random pairs never reach 0.12.
# Floor: bench/related_floor.py on NSURL-2019 Q2Q, 98.9% of same-meaning pairs score >= 0.86 with
# e5-small-q4; on the bundled sample 10% of random pairs do, and 95% of articles keep 10 neighbours.
NEAR_DUPLICATE_OVERLAP = 0.5
RELATED_FLOOR = 0.86  # the default model's (see embedders.related_floor_of); each model has its own


DUPLICATES = ("duplicate", "near_duplicate")


@dataclass(frozen=True)
class Relation:
    relation: str
    score: float
    overlap: float
    compared: str  # "body" or "headline"

    def to_dict(self) -> dict:
        return {"relation": self.relation, "score": round(self.score, 4), "overlap": round(self.overlap, 4)}


def relate(a: Fingerprint, b: Fingerprint, score: float, common: np.ndarray = EMPTY,
           floor: float = RELATED_FLOOR) -> Relation:
    """The relation of two articles whose embeddings have cosine `score` (`floor`: the related floor)."""
    if a.body_hash and b.body_hash:
        compared, same = "body", a.body_hash == b.body_hash
        overlap = 1.0 if same else containment(a.body_shingles, b.body_shingles, common)
    else:
        # A headline that many articles carry ("كاريكاتير" above a cartoon) is a label, not a story:
        # its shingles are among the common ones, and two such articles share no text.
        compared = "headline"
        same = a.headline_hash == b.headline_hash and len(without(a.headline_shingles, common)) > 0
        overlap = 1.0 if same else containment(a.headline_shingles, b.headline_shingles, common)
    if same:
        name = "duplicate"
    elif overlap >= NEAR_DUPLICATE_OVERLAP:
        name = "near_duplicate"
    elif score >= floor:
        name = "related"
    else:
        name = "unrelated"
    return Relation(name, score, overlap, compared)


def relate_many(a: Fingerprint, others: list[Fingerprint], scores: np.ndarray, common: np.ndarray = EMPTY,
                floor: float = RELATED_FLOOR) -> list[Relation]:
    """`relate(a, b, score, common, floor)` for each b of `others` cleaned of `common` beforehand
    (`overlap.without_common`: the query path cleans a candidate once, when its row is read, not at
    every query), the text reuse measured in two array passes (bodies, then headlines)."""
    a = without_common(a, common)
    bodies = [bool(a.body_hash and b.body_hash) for b in others]
    by_body = [i for i, body in enumerate(bodies) if body]
    by_headline = [i for i, body in enumerate(bodies) if not body]
    overlap = np.zeros(len(others))
    if by_body:
        overlap[by_body] = containments(a.body_shingles, [others[i].body_shingles for i in by_body])
    if by_headline:
        overlap[by_headline] = containments(a.headline_shingles, [others[i].headline_shingles for i in by_headline])
    labelled = len(a.headline_shingles) > 0  # a headline that is all boilerplate is a label, not a story
    relations = []
    for b, body, reuse, score in zip(others, bodies, overlap.tolist(), scores.tolist()):
        same = a.body_hash == b.body_hash if body else (a.headline_hash == b.headline_hash and labelled)
        reuse = 1.0 if same else reuse
        name = ("duplicate" if same else "near_duplicate" if reuse >= NEAR_DUPLICATE_OVERLAP
                else "related" if score >= floor else "unrelated")
        relations.append(Relation(name, score, reuse, "body" if body else "headline"))
    return relations

"""Fitting a reader's calibration from judged pairs: a logistic model of "related" over the evidence
(`relatedness.FEATURES`), the floor that gives blocks the precision asked for, and the figures that
say what to expect. Pure functions on arrays (no scikit-learn at run time).

A judged pair is (query, candidate, label) with label 2 (same story), 1 (related) or 0 (not);
"related" is label >= 1. Blocks are scored as the product shows them: per query, its candidates
by relatedness, the first `BLOCK` at or above the floor.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .relatedness.model import FEATURES, Calibration

if TYPE_CHECKING:
    from .search.query import SimilarSearch

BLOCK = 5
L2 = 1.0  # ridge penalty on the standardised weights (as scikit-learn's C=1)
FOLDS = 5
SAME_EVENT_PRECISION = 0.7  # "same event" in `why` from where this share of pairs so scored were judged 2


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(weights, bias, mean, scale) of a ridge logistic regression on standardised `x`, by Newton's method."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    w = np.zeros(z.shape[1])
    penalty = np.diag([l2] * (z.shape[1] - 1) + [0.0])  # the bias goes unpenalised
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(w)), gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1]), mean, scale


def predict(x: np.ndarray, weights: np.ndarray, bias: float, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(((x - mean) / scale) @ weights + bias)))


@dataclass(frozen=True)
class Blocks:
    """What blocks of judged candidates show at one floor."""

    queries: int
    shown: int
    related: int  # shown and judged related
    empty: int  # queries whose block is empty
    ceiling: int  # the related items a perfect block would show (at most BLOCK a query)

    @property
    def precision(self) -> float:
        return self.related / self.shown if self.shown else float("nan")

    @property
    def related_per_block(self) -> float:
        return self.related / self.queries if self.queries else 0.0

    @property
    def share_of_ceiling(self) -> float:
        return self.related / self.ceiling if self.ceiling else float("nan")


def blocks(p: np.ndarray, related: np.ndarray, groups: np.ndarray, floor: float, block: int = BLOCK) -> Blocks:
    """The blocks of each query (`groups`) at `floor`: its best candidates by `p`, at most `block`."""
    shown = hits = empty = ceiling = 0
    for q in np.unique(groups):
        idx = np.flatnonzero(groups == q)
        kept = [i for i in idx[np.argsort(-p[idx], kind="stable")] if p[i] >= floor][:block]
        shown, hits, empty = shown + len(kept), hits + int(related[kept].sum()), empty + (not kept)
        ceiling += min(block, int(related[idx].sum()))
    return Blocks(len(np.unique(groups)), shown, hits, empty, ceiling)


def choose_floor(p: np.ndarray, related: np.ndarray, groups: np.ndarray, target: float,
                 least_shown: int = 20) -> float:
    """The lowest floor (in steps of 0.01) whose blocks show at least `least_shown` items at
    `target` precision or more; 0.99 when none does."""
    for floor in np.round(np.arange(0.01, 1.0, 0.01), 2):
        figures = blocks(p, related, groups, floor)
        if figures.shown >= least_shown and figures.precision >= target:
            return float(floor)
    return 0.99


def same_event_level(p: np.ndarray, same_story: np.ndarray, least: int = 10) -> float:
    """The lowest relatedness above which at least SAME_EVENT_PRECISION of the pairs were judged the
    same story (counting from the top, after at least `least` pairs); 1.0 when never."""
    order = np.argsort(-p, kind="stable")
    share = np.cumsum(same_story[order]) / np.arange(1, len(order) + 1)
    reaching = [i for i in range(len(order)) if share[i] >= SAME_EVENT_PRECISION and i >= least - 1]
    return float(p[order][reaching[-1]]) if reaching else 1.0


def out_of_fold(x: np.ndarray, related: np.ndarray, groups: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """Each pair's relatedness from a model fitted without its query's pairs (queries dealt to folds)."""
    queries = np.unique(groups)
    fold_of = {q: i % folds for i, q in enumerate(np.random.default_rng(0).permutation(queries))}
    fold = np.array([fold_of[g] for g in groups])
    p = np.zeros(len(related))
    for f in range(min(folds, len(queries))):
        test = fold == f
        if test.all() or not test.any():
            continue
        p[test] = predict(x[test], *fit_logistic(x[~test], related[~test]))
    return p


def auc(p: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC: the chance a positive outscores a negative (ties half)."""
    pos, neg = p[positive], p[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    values = np.concatenate([pos, neg])
    for v in np.unique(values):  # average ranks of ties
        tied = values == v
        ranks[tied] = ranks[tied].mean()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


GATE_PERCENTILE = 1  # the gate lets this share (%) of the judged related pairs go (they score lowest)
DEFAULT_FEATURES = ("cosine_z", "shared_words", "query_headline_words", "candidate_headline_words")


@dataclass(frozen=True)
class Judged:
    """Judged pairs with their evidence, as the query path computes it for the index they were read in."""

    evidence: np.ndarray  # one row a pair, every one of relatedness.FEATURES
    labels: np.ndarray  # 0, 1 or 2
    queries: np.ndarray  # each pair's query id (blocks are per query)
    query_z: np.ndarray  # the cosine in spreads above the query's null (the gate is read on it)
    null_means: np.ndarray  # each pair's query null
    null_spreads: np.ndarray


def judged_pairs(search: SimilarSearch, pairs: Sequence[tuple[str, str, int]]) -> Judged:
    """Judged pairs (query id, candidate id, label 0-2) of stored articles with their evidence, as the
    query path computes it over the search's index (NotFound naming an id that is not stored); a
    candidate with no vector yet is left out (it is not in the index the calibration is read on)."""
    by_query: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for query_id, candidate_id, label in pairs:
        by_query[query_id].append((candidate_id, label))
    cosine = FEATURES.index("cosine")
    rows, labels, queries, query_z, means, spreads = [], [], [], [], [], []
    for query_id, judged in by_query.items():
        query = search.query_of(search.stored(query_id))
        null = search.null(query.vector)
        for candidate_id, label in judged:
            x = search.evidence_for(query, [search.stored(candidate_id).key])
            if len(x):
                rows.append(x[0])
                labels.append(label)
                queries.append(query_id)
                query_z.append((x[0][cosine] - null.mean[0]) / null.spread[0])
                means.append(null.mean[0])
                spreads.append(null.spread[0])
    return Judged(np.array(rows).reshape(len(rows), len(FEATURES)), np.array(labels), np.array(queries),
                  np.array(query_z), np.array(means), np.array(spreads))


def fit_calibration(model: str, judged: Judged, features: tuple[str, ...] = DEFAULT_FEATURES,
                    target: float = 0.85, source: str = "") -> Calibration:
    """A calibration of `model` from judged pairs: the floor is chosen on out-of-fold relatedness
    (each query's pairs scored by a model fitted without them), for `target` precision of 5-item
    blocks; the weights are then fitted on every pair. Its figures are the out-of-fold blocks'."""
    columns = [FEATURES.index(f) for f in features]
    x, related, same = judged.evidence[:, columns], judged.labels >= 1, judged.labels == 2
    if len(np.unique(judged.queries)) < FOLDS or related.all() or not related.any():
        raise ValueError(f"calibration needs judged pairs of at least {FOLDS} queries, some related and some not")
    held_out = out_of_fold(x, related, judged.queries)
    floor = choose_floor(held_out, related, judged.queries, target)
    weights, bias, mean, scale = fit_logistic(x, related)
    fitted = predict(x, weights, bias, mean, scale)
    gate_z = float(np.floor(np.percentile(judged.query_z[related], GATE_PERCENTILE) * 10) / 10)
    shown = blocks(held_out, related, judged.queries, floor)
    figures = {"pairs": int(len(related)), "queries": int(shown.queries), "related_pairs": int(related.sum()),
               "target": target, "auc": round(auc(held_out, related), 4), "precision": round(shown.precision, 4),
               "related_per_block": round(shown.related_per_block, 3),
               "share_of_ceiling": round(shown.share_of_ceiling, 3), "empty_blocks": round(shown.empty / shown.queries, 3)}
    prior = (float(judged.null_means.mean()), float(judged.null_spreads.mean()))
    return Calibration(model, tuple(features), weights, mean, scale, bias, floor, same_event_level(fitted, same),
                       gate_z, prior, source, figures)

"""Relatedness: an estimate of the probability that an editor calls a candidate related to the query,
from the evidence on the pair, through a logistic model fitted on judged pairs (`calibrate`).

Evidence that carries over to an archive the fit never saw is relative to that archive: a cosine
is read against what unrelated articles of the same index score with the same two articles (the
version's reference sample, `null_of`), and words weigh their idf in this corpus. Each calibration
names the features it uses, from `FEATURES` (one row a candidate):
- `cosine`: the embeddings' cosine (absolute: its level differs from one corpus to another);
- `cosine_z`: the cosine in spreads above what a random article of this index scores against the
  query and against the candidate (the mean of the two nulls; see `cosine_z`);
- `shared_words`: the share of the query's rarest words (by their idf weight) the candidate holds;
- `query_headline_words`: the same for the words of the query's headline (its names, mostly);
- `candidate_headline_words`: the share of the candidate headline's words the query holds;
- `days_apart`: log(1 + days between the two publications, at most MAX_DAYS; unknown: MAX_DAYS);
- `same_section`: 1 same section, 0 another, 0.5 unknown (depends on one outlet's section names).

Each embedder has its own calibration file (`<model>.json`, written by `python -m service calibrate`
into the data folder, or shipped in `index/relatedness/calibration/`): its features, weights, the floor chosen
on judged pairs for precision, and its null prior. A model without one is uncalibrated: candidates
are ranked by cosine (the engine warns; e5's floor is never applied to another model's scores).
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CALIBRATIONS = Path(__file__).resolve().parent / "calibration"
FEATURES = ("cosine", "cosine_z", "shared_words", "query_headline_words", "candidate_headline_words",
            "days_apart", "same_section")
MAX_DAYS = 7.0  # time apart counts up to a week: the judged data holds no rhythm beyond it that carries over
# The null prior is worth this many reference vectors less those the index gives (at least PRIOR_WEIGHT):
# an index of a few dozen articles, often all on one topic, says little of what unrelated ones score.
TRUSTED_REFERENCE = 256
PRIOR_WEIGHT = 16.0


@dataclass(frozen=True)
class Null:
    """What unrelated articles score against each of some articles: the mean and spread of their
    cosines to the index's reference sample."""

    mean: np.ndarray
    spread: np.ndarray


def null_of(vectors: np.ndarray, reference: np.ndarray | None, prior: tuple[float, float],
            weight: float = PRIOR_WEIGHT) -> Null:
    """The null of each row of `vectors` against `reference` (None or few rows: mostly `prior`, the
    calibration's (mean, spread) of the corpora it was fitted on)."""
    vectors = np.atleast_2d(vectors)
    if reference is None or not len(reference) or (weight == 0 and len(reference) < 2):
        return Null(np.full(len(vectors), prior[0]), np.full(len(vectors), prior[1]))
    scores = vectors @ reference.T
    n = scores.shape[1]
    weight = weight and max(weight, TRUSTED_REFERENCE - n)
    mean = (scores.sum(axis=1) + weight * prior[0]) / (n + weight)
    variance = (((scores - mean[:, None]) ** 2).sum(axis=1) + weight * prior[1] ** 2) / (n + weight)
    return Null(mean, np.sqrt(variance))


def cosine_z(cosines: np.ndarray, query: Null, candidates: Null) -> np.ndarray:
    """The cosines in spreads above the two articles' nulls (one query, several candidates)."""
    mean = (query.mean + candidates.mean) / 2
    spread = np.sqrt((query.spread ** 2 + candidates.spread ** 2) / 2)
    return (cosines - mean) / np.maximum(spread, 1e-6)


@dataclass(frozen=True, eq=False)
class Calibration:
    """A fitted model of relatedness for one embedder, and the floor an item must reach."""

    model: str
    features: tuple[str, ...]  # which of FEATURES, in the weights' order
    weights: np.ndarray  # one per feature, on standardised features
    mean: np.ndarray
    scale: np.ndarray
    bias: float
    floor: float  # relatedness at or above which an item is shown (precision on judged pairs)
    same_event: float  # relatedness at or above which `why` says "same event"
    gate_z: float  # under this many spreads above the query's null no candidate is related
    null_prior: tuple[float, float]  # (mean, spread) of a query's null, for an index with few articles
    source: str  # where the judgements came from
    figures: dict = field(default_factory=dict)  # what the fit measured (see `calibrate`)

    def relatedness(self, evidence: np.ndarray) -> np.ndarray:
        """The probability of "related" for each row of evidence (all of FEATURES, in order)."""
        x = np.atleast_2d(evidence)[:, [FEATURES.index(f) for f in self.features]]
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def gate(self, query: Null) -> float:
        """The cosine under which no candidate of this query is related (nor searched for)."""
        return float(query.mean[0] + self.gate_z * query.spread[0])

    @functools.cached_property
    def digest(self) -> str:
        """A short name of this calibration: answers ranked under another are not served."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:12]

    def to_json(self) -> dict:
        return {"model": self.model, "features": list(self.features), "weights": self.weights.tolist(),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "bias": self.bias, "floor": self.floor,
                "same_event": self.same_event, "gate_z": self.gate_z, "null_prior": list(self.null_prior),
                "source": self.source, "figures": self.figures}

    @classmethod
    def from_json(cls, doc: dict) -> Calibration:
        features = tuple(doc.get("features") or ())
        unknown = [f for f in features if f not in FEATURES]
        if not features or unknown or "gate_z" not in doc:
            raise ValueError(f"calibration features {list(features)} are not among {list(FEATURES)}"
                             if unknown or not features else "calibration made for an older engine (no gate_z)")
        if not len(doc["weights"]) == len(doc["mean"]) == len(doc["scale"]) == len(features):
            raise ValueError("calibration weights, mean and scale must have one value per feature")
        return cls(doc["model"], features, np.array(doc["weights"], dtype=float), np.array(doc["mean"], dtype=float),
                   np.array(doc["scale"], dtype=float), float(doc["bias"]), float(doc["floor"]),
                   float(doc["same_event"]), float(doc["gate_z"]), tuple(float(v) for v in doc["null_prior"]),
                   doc.get("source", ""), dict(doc.get("figures") or {}))


def calibration_name(model: str) -> str:
    """The file name of a model's calibration."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", model) + ".json"


def calibration_path(model: str, folder: Path = CALIBRATIONS) -> Path:
    return folder / calibration_name(model)


def save_calibration(calibration: Calibration, folder: Path) -> Path:
    """Write a calibration into `folder` (atomically: a reader sees the old file or the new); returns its path."""
    path = calibration_path(calibration.model, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(calibration.to_json(), indent=1) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def load_calibration(model: str, folders: tuple[Path, ...] = (CALIBRATIONS,)) -> Calibration | None:
    """The model's calibration from the first folder holding one, or None (uncalibrated).

    Raises:
        ValueError: a calibration file that cannot be used, naming it.
    """
    for folder in folders:
        path = calibration_path(model, folder)
        if path.exists():
            try:
                calibration = Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}: not a usable calibration ({exc})") from None
            if calibration.model != model:
                raise ValueError(f"{path}: a calibration of {calibration.model!r}, not of {model!r}")
            return calibration
    return None


def evidence(cosines: np.ndarray, z: np.ndarray, shared_words: np.ndarray, query_headline_words: np.ndarray,
             candidate_headline_words: np.ndarray, days_apart: list[float | None],
             same_section: list[float]) -> np.ndarray:
    """The evidence rows of a query's candidates (every one of FEATURES, in order)."""
    days = np.array([math.log1p(MAX_DAYS if d is None else min(d, MAX_DAYS)) for d in days_apart])
    return np.column_stack([cosines, z, shared_words, query_headline_words, candidate_headline_words, days,
                            np.array(same_section, dtype=float)]).reshape(len(cosines), len(FEATURES))


def same_section(a: str | None, b: str | None) -> float:
    return 0.5 if not a or not b else float(a == b)

"""Relatedness: an estimate of the probability that an editor calls a candidate related to the query,
from the evidence on the pair, through a logistic model fitted on judged pairs.

The evidence (one row a candidate, `FEATURES`):
- `cosine`: the embeddings' cosine;
- `shared_words`: the share of the query's rarest words (by their idf weight) the candidate holds;
- `query_headline_words`: the same for the words of the query's headline (its names, mostly);
- `candidate_headline_words`: the share of the candidate headline's words the query holds;
- `days_apart`: log(1 + days between the two publications), 30 days when a date is unknown;
- `same_section`: 1 same section, 0 another, 0.5 unknown.

Each embedder has its own calibration file (`index/calibration/<model>.json`, written by
`bench/relatedness/fit.py`): its weights, and the floor chosen on judged pairs for precision. A model
without one is uncalibrated: candidates are ranked by cosine and its related floor, as before.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATIONS = Path(__file__).resolve().parent / "calibration"
FEATURES = ("cosine", "shared_words", "query_headline_words", "candidate_headline_words", "days_apart",
            "same_section")
UNKNOWN_DAYS = 30.0


@dataclass(frozen=True, eq=False)
class Calibration:
    """A fitted model of relatedness for one embedder, and the floor an item must reach."""

    model: str
    weights: np.ndarray  # one per feature, on standardised features
    mean: np.ndarray
    scale: np.ndarray
    bias: float
    floor: float  # relatedness at or above which an item is shown (precision on judged pairs)
    same_event: float  # relatedness at or above which `why` says "same event"
    cosine_gate: float  # below this cosine no candidate reaches `floor`, whatever its other evidence
    source: str  # where the judgements came from

    def relatedness(self, evidence: np.ndarray) -> np.ndarray:
        """The probability of "related" for each row of evidence."""
        z = ((evidence - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    @functools.cached_property
    def digest(self) -> str:
        """A short name of this calibration: answers ranked under another are not served."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:12]

    def to_json(self) -> dict:
        return {"model": self.model, "features": list(FEATURES), "weights": self.weights.tolist(),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "bias": self.bias, "floor": self.floor,
                "same_event": self.same_event, "cosine_gate": self.cosine_gate, "source": self.source}

    @classmethod
    def from_json(cls, doc: dict) -> "Calibration":
        if doc.get("features") != list(FEATURES):
            raise ValueError(f"calibration features {doc.get('features')} are not {list(FEATURES)}")
        return cls(doc["model"], np.array(doc["weights"]), np.array(doc["mean"]), np.array(doc["scale"]),
                   float(doc["bias"]), float(doc["floor"]), float(doc["same_event"]), float(doc["cosine_gate"]),
                   doc.get("source", ""))


def calibration_path(model: str) -> Path:
    return CALIBRATIONS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", model) + ".json")


def load_calibration(model: str) -> Calibration | None:
    """The model's calibration, or None (uncalibrated) when it has none."""
    path = calibration_path(model)
    return Calibration.from_json(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def evidence(cosines: np.ndarray, shared_words: np.ndarray, query_headline_words: np.ndarray,
             candidate_headline_words: np.ndarray, days_apart: list[float | None], same_section: list[float]) -> np.ndarray:
    """The evidence rows of a query's candidates (see FEATURES)."""
    days = np.array([math.log1p(UNKNOWN_DAYS if d is None else d) for d in days_apart])
    return np.column_stack([cosines, shared_words, query_headline_words, candidate_headline_words, days,
                            np.array(same_section, dtype=float)])


def same_section(a: str | None, b: str | None) -> float:
    return 0.5 if not a or not b else float(a == b)

"""The `related` floor: the cosine score above which two Arabic texts mean the same, on NSURL-2019 Q2Q.

Embeds every distinct question (through the embedding cache), scores the 11,997 labelled pairs and
prints ROC AUC, the F1-best threshold, and precision/recall at a few thresholds.

    python -m bench.related_floor
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from bench.corpora import nsurl_q2q
from index.embedding.cache import EmbeddingCache, embed_key
from index.embedding.models import create_embedder

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("EVAL_EMBEDDING_CACHE", ROOT / ".cache" / "eval-embeddings.sqlite"))


def embed_all(model: str, texts: list[str]) -> dict[str, np.ndarray]:
    """Vectors for `texts` under `model`, embedding only what the evaluation cache lacks."""
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(CACHE)
    keys = {t: embed_key(model, t) for t in texts}
    found = cache.get_many(list(keys.values()))
    missing = [t for t, k in keys.items() if k not in found]
    if missing:
        print(f"embedding {len(missing)} texts with {model} ...", file=sys.stderr)
        embedder = create_embedder(model)
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            vectors = embedder.encode(chunk)
            cache.put_many([keys[t] for t in chunk], vectors)
            found.update(zip((keys[t] for t in chunk), vectors))
    return {t: found[k] for t, k in keys.items()}


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels.sum()
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(labels) - positives)))


def main(model: str = "e5-small-q4") -> None:
    pairs = nsurl_q2q()
    vectors = embed_all(model, list({q for a, b, _ in pairs for q in (a, b)}))
    scores = np.array([float(vectors[a] @ vectors[b]) for a, b, _ in pairs])
    labels = np.array([label for _, _, label in pairs])
    print(f"NSURL-2019 Q2Q: {len(pairs)} pairs ({labels.sum()} same meaning), model {model}")
    print(f"ROC AUC {auc(scores, labels):.4f}; mean score same {scores[labels == 1].mean():.4f}, different {scores[labels == 0].mean():.4f}")
    best = (0.0, 0.0)
    for threshold in np.arange(0.70, 0.99, 0.005):
        predicted = scores >= threshold
        tp = (predicted & (labels == 1)).sum()
        precision = tp / max(predicted.sum(), 1)
        recall = tp / labels.sum()
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        best = max(best, (f1, threshold))
        if abs(threshold * 100 - round(threshold * 100)) < 1e-6 and round(threshold * 100) % 2 == 0:
            print(f"  threshold {threshold:.2f}: precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f}")
    print(f"best F1 {best[0]:.3f} at threshold {best[1]:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:])

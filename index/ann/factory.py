"""The one place a vector index is chosen: exact for a small corpus, approximate beyond."""
from __future__ import annotations

import numpy as np

from .base import VectorSearch
from .faiss_index import VectorIndex, new_index


def vector_index(dim: int, vectors: np.ndarray | None = None) -> VectorSearch:
    """An empty index suited to `vectors` (exact up to `faiss_index.FLAT_MAX` of them, approximate beyond,
    trained on them), or an exact one."""
    return new_index(dim, vectors) if vectors is not None and len(vectors) else VectorIndex(dim)

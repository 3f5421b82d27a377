"""A backfill: the texts the embedding cache lacks, embedded ahead of an import or a rebuild (a large
archive, a change of model), here or across a Ray cluster.

With Ray, Ray Data deals batches of texts to a pool of actors, one model loaded in each, one CPU
each; the vectors come back to this process, which writes them into the cache as they arrive.
Without Ray the same texts go through this process's embedder. Either way a later `ingest` or
`rebuild` finds every vector cached and embeds nothing.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cached import CachedEmbedder
from .models import Progress, create_embedder

CHUNK = 20_000  # texts read, then handed to Ray, at a time (the driver holds one chunk's texts and vectors)
BATCH = 32  # texts an actor embeds per call


@dataclass
class Backfill:
    """What a backfill did: texts asked for, found cached, embedded, and by which node (Ray's id, or
    "local")."""

    texts: int = 0
    cached: int = 0
    embedded: int = 0
    nodes: Counter = field(default_factory=Counter)


class EmbedBatch:
    """A Ray actor: one model, loaded once; embeds a batch of texts, and says on which node."""

    def __init__(self, model: str) -> None:
        import ray

        self.embedder = create_embedder(model)
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        return {"key": batch["key"], "vector": list(vectors), "node": np.array([self.node] * len(vectors))}


def backfill(embedding: CachedEmbedder, texts: Sequence[str], ray_address: str | None = None, workers: int = 1,
             progress: Progress | None = None) -> Backfill:
    """Embed into the cache every text it lacks: on the Ray cluster at `ray_address` ("auto": the one
    this machine belongs to) with `workers` actors, or here when None."""
    done = Backfill(texts=len(texts))
    seen: set[str] = set()
    for start in range(0, len(texts), CHUNK):  # one chunk's texts and vectors in memory at a time
        part = texts[start : start + CHUNK]
        keys = [embedding.key_of(t) for t in part]
        cached = embedding.cached(keys)
        met_now = set(keys) - seen  # each distinct text counted once, in the chunk it first comes in
        seen |= met_now
        missing = {k: t for k, t in zip(keys, part) if k in met_now and k not in cached}
        done.cached += len(met_now) - len(missing)
        if progress:
            progress(len(part) - len(missing))
        chunk = list(missing.items())
        if not chunk:
            continue
        results = _on_ray(embedding.model, chunk, ray_address, workers) if ray_address else _here(embedding, chunk)
        for keys_done, vectors, nodes in results:
            embedding.cache.put_many(keys_done, vectors)
            done.embedded += len(keys_done)
            done.nodes.update(nodes)
            if progress:
                progress(len(keys_done))
    return done


def _here(embedding: CachedEmbedder, chunk: list[tuple[str, str]]) -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
    for start in range(0, len(chunk), BATCH):
        part = chunk[start : start + BATCH]
        yield [k for k, _ in part], embedding.embedder.encode([t for _, t in part]), ["local"] * len(part)


def _on_ray(model: str, chunk: list[tuple[str, str]], address: str,
            workers: int) -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
    import ray

    if not ray.is_initialized():  # the nodes get this package; its requirements must be installed there
        ray.init(address=address, logging_level="WARNING", log_to_driver=False,
                 # One thread an actor: it has one CPU (the model's OpenMP would take every core).
                 runtime_env={"py_modules": [str(Path(__file__).resolve().parent)],
                              "env_vars": {"OMP_NUM_THREADS": "1"}})
    ray.data.DataContext.get_current().enable_progress_bars = False  # the command shows its own
    # Blocks are what Ray deals to actors: a few per actor, so that each of them has work.
    blocks = min(len(chunk), max(workers * 4, len(chunk) // (BATCH * 4)))
    data = ray.data.from_items([{"key": k, "text": t} for k, t in chunk], override_num_blocks=blocks)
    batch = max(1, min(BATCH, len(chunk) // blocks))
    embedded = data.map_batches(EmbedBatch, fn_constructor_args=(model,), batch_size=batch, concurrency=workers,
                                num_cpus=1)
    for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):  # each block as it is done
        yield [str(k) for k in batch["key"]], np.stack(batch["vector"]).astype(np.float32), [str(n) for n in batch["node"]]
